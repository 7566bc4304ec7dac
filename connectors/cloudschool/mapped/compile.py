"""A record mapping compiled against the files' headers: rows in, record columns out.

For each row of the mapping's source: split the ``explode`` cell into one row per
item, look up each ``join``, test ``where``, then fill each record column from its
expression. The result is a row in the record's column order that the preset's
converters read as they read a preset file, so every value is checked the same way.
A column a mapping needs that the file lacks is a :class:`MissingColumn` (a config
problem at ``portico config validate``, a held export at sync time).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from connectors.cloudschool.mapped.options import Expr, RecordMapping, Scalar, Source, Test
from connectors.cloudschool.mapped.tables import Table
from connectors.cloudschool.values import BadCell

Joined = dict[str, list[str] | None]
Getter = Callable[[list[str], Joined], str]


class MissingColumn(Exception):
    def __init__(self, file: str, column: str, why: str) -> None:
        super().__init__(f"{file}: missing column {column!r} ({why})")
        self.file, self.column = file, column


@dataclass
class KeyIndex:
    rows: dict[tuple[str, ...], tuple[int, list[str]]]
    ambiguous: dict[tuple[str, ...], tuple[int, int]]


def _key(cells: list[str], positions: list[int]) -> tuple[str, ...]:
    return tuple(cells[p].strip() for p in positions)


def build_index(table: Table, columns: list[str]) -> KeyIndex:
    """The rows of ``table`` by the cells of ``columns``; a key two different rows share is ambiguous."""
    positions = [_need(table, c, "a join key") for c in columns]
    rows: dict[tuple[str, ...], tuple[int, list[str]]] = {}
    ambiguous: dict[tuple[str, ...], tuple[int, int]] = {}
    for n, cells in table.rows():
        key = _key(cells, positions)
        if not all(key):
            continue
        first = rows.get(key)
        if first is None:
            rows[key] = (n, cells)
        elif first[1] != cells:
            ambiguous.setdefault(key, (first[0], n))
    return KeyIndex(rows, ambiguous)


def _need(table: Table, column: str, why: str) -> int:
    pos = table.position(column)
    if pos is None:
        raise MissingColumn(table.name, column, why)
    return pos


def token(value: Scalar, source: Source, default_true: str, default_false: str) -> str:
    """A YAML constant as a cell: booleans in the file's own flag words."""
    if isinstance(value, bool):
        return default_true if value else default_false
    return str(value)


@dataclass
class Out:
    """What one source row (or one exploded item of it) became."""

    where: str
    cells: list[str] | None = None  # the record's columns, in order (None: skipped or bad)
    bad_field: str | None = None
    reason: str | None = None


class Compiled:
    """One record mapping bound to its tables (see module docstring)."""

    def __init__(
        self,
        mapping: RecordMapping,
        columns: tuple[str, ...],
        tables: dict[str, Table],
        indexes: Callable[[str, list[str]], KeyIndex],
        flag_words: tuple[list[str], list[str]],
    ) -> None:
        self.mapping = mapping
        self.table = tables[mapping.source]
        self.read_positions: set[int] = set()  # the own columns this mapping reads (null tokens)
        self.columns = columns
        self.true_words, self.false_words = flag_words
        self._t0, self._f0 = flag_words[0][0], flag_words[1][0]
        self.joins: list[tuple[str, Table, KeyIndex, list[Getter], bool]] = []
        for alias, join in mapping.join.items():
            other = tables[join.source]
            ours = [self._getter(c, "a join key", joined_ok=False) for c in join.on.values()]
            self.joins.append((alias, other, indexes(join.source, list(join.on)), ours, join.required))
        self._joined_tables = {alias: t for alias, t, *_ in self.joins}
        self.explode = (
            (_need(self.table, mapping.explode.column, "explode"), mapping.explode.separator)
            if mapping.explode
            else None
        )
        if self.explode is not None:
            self.read_positions.add(self.explode[0])
        # Tests of the row's own columns run before any join is looked up (a row left out
        # needs no match); tests of joined columns after.
        joined_refs = {
            c for c in mapping.where if c.partition(".")[1] and c.partition(".")[0] in mapping.join
        }
        self.tests = [
            (self._getter(c, "where"), self._test(t))
            for c, t in mapping.where.items()
            if c not in joined_refs
        ]
        self.joined_tests = [
            (self._getter(c, "where"), self._test(t)) for c, t in mapping.where.items() if c in joined_refs
        ]
        self.fields: list[Getter] = []
        self.blame: dict[str, str] = {}  # record column -> the source column a bad value came from
        for col in columns:
            f = mapping.fields.get(col)
            if f is None:
                self.fields.append(lambda cells, joined: "")
                continue
            expr = Expr(column=f) if isinstance(f, str) else f
            self.blame[col] = expr.column or col
            self.fields.append(self._expr(col, expr))

    # --- compiling --------------------------------------------------------------------------

    def _getter(self, ref: str, why: str, *, joined_ok: bool = True, optional: bool = False) -> Getter:
        alias, dot, col = ref.partition(".")
        if dot and joined_ok and alias in self.mapping.join:
            table = self._joined_tables[alias]
            pos = table.position(col)
            if pos is None:
                if optional:
                    return lambda cells, joined: ""
                raise MissingColumn(table.name, col, why)

            at = pos

            def joined_cell(cells: list[str], joined: Joined) -> str:
                row = joined.get(alias)
                return "" if row is None else row[at]

            return joined_cell
        own = self.table.position(ref)
        if own is None:
            if optional:
                return lambda cells, joined: ""
            raise MissingColumn(self.table.name, ref, why)
        self.read_positions.add(own)
        return lambda cells, joined: cells[own]

    def _expr(self, col: str, e: Expr) -> Getter:
        if "const" in e.model_fields_set:
            constant = "" if e.const is None else token(e.const, self.mapping_source, self._t0, self._f0)
            return lambda cells, joined: constant
        default = None if e.default is None else token(e.default, self.mapping_source, self._t0, self._f0)
        optional = e.optional or default is not None
        if e.template is not None:
            parts = re.split(r"(\{[^{}]+\})", e.template)
            getters: list[Getter | str] = [
                self._getter(p[1:-1], f"fields.{col}", optional=optional) if p.startswith("{") else p
                for p in parts
            ]

            def filled(cells: list[str], joined: Joined) -> str:
                return "".join(g if isinstance(g, str) else g(cells, joined).strip() for g in getters)

            raw: Getter = filled
        else:
            raw = self._getter(str(e.column), f"fields.{col}", optional=optional)
        mapping = {" ".join(k.split()).casefold(): v for k, v in (e.map or {}).items()}
        replaces = [(re.compile(p), r) for p, r in e.replace or []]
        blame, other = e.column or col, e.other
        if not mapping and not replaces and default is None:
            return raw  # a plain column: the converters strip and check the cell themselves

        def value(cells: list[str], joined: Joined) -> str:
            v = raw(cells, joined).strip()
            if not v:
                return default or ""
            if mapping or replaces:
                hit = mapping.get(" ".join(v.split()).casefold())
                if hit is not None:
                    return hit
                for rx, repl in replaces:
                    m = rx.fullmatch(v)
                    if m is not None:
                        return m.expand(repl)
                if other == "error":
                    raise BadCell(blame, "not a value the mapping knows (map, replace)")
                if other == "blank":
                    return default or ""
            return v

        return value

    @property
    def mapping_source(self) -> Source:
        return self.table.spec

    def _test(self, test: Test) -> Callable[[str], bool]:
        def words(v: object) -> set[str]:
            if isinstance(v, bool):
                return {w.strip().casefold() for w in (self.true_words if v else self.false_words)}
            return {" ".join(str(v).split()).casefold()}

        if isinstance(test, dict):
            listed = test.get("not")
            values = listed if isinstance(listed, list) else [] if listed is None else [listed]
            none_of = set().union(*(words(v) for v in values))
            blank = test.get("blank")
            return lambda s: (
                (blank is None or (not s) == bool(blank))
                and (not none_of or " ".join(s.split()).casefold() not in none_of)
            )
        allowed = set().union(*(words(v) for v in (test if isinstance(test, list) else [test])))
        return lambda s: " ".join(s.split()).casefold() in allowed

    # --- running ----------------------------------------------------------------------------

    def run(self) -> Iterator[Out]:
        table = self.table
        self.rows_read = 0
        prefix = f"{table.name} {table.unit} "
        for n, cells in table.rows(self.read_positions):
            self.rows_read += 1
            where = prefix + str(n)
            if self.explode is None:
                yield self._one(where, cells)
                continue
            pos, sep = self.explode
            items = [i.strip() for i in cells[pos].split(sep) if i.strip()]
            if not items:
                yield Out(where)
            for item in items:
                yield self._one(where, [*cells[:pos], item, *cells[pos + 1 :]])

    def _one(self, where: str, cells: list[str]) -> Out:
        joined: Joined = {}
        for getter, ok in self.tests:
            if not ok(getter(cells, joined).strip()):
                return Out(where)
        for alias, other, index, ours, required in self.joins:
            key = tuple(g(cells, joined).strip() for g in ours)
            if key in index.ambiguous:
                a, b = index.ambiguous[key]
                return Out(
                    where,
                    bad_field=alias,
                    reason=f"{other.name} has two different rows for this key ({other.unit}s {a} and {b})",
                )
            hit = index.rows.get(key)
            if hit is None and required and all(key):
                return Out(where, bad_field=alias, reason=f"no {other.unit} of {other.name} has this key")
            joined[alias] = None if hit is None else hit[1]
        for getter, ok in self.joined_tests:
            if not ok(getter(cells, joined).strip()):
                return Out(where)
        try:
            return Out(where, [f(cells, joined) for f in self.fields])
        except BadCell as bad:
            return Out(where, bad_field=bad.field, reason=bad.reason)
