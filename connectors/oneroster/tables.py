"""Each OneRoster file's current rows: the newest bulk file, with every later delta applied.

Per file, in bundle order: ``bulk`` replaces the whole set, ``delta`` changes the rows
it names (``active`` rows are upserted, ``tobedeleted`` rows removed; a delta row older
than the row held, by ``dateLastModified``, is ignored), ``absent`` changes nothing. The
result is the file's whole current set, so what the connector publishes is always a
full snapshot and the sync engine's "not seen means deleted" is right. A delta is
never read on its own: a file with deltas but no bulk base holds the run, and a file
absent from every bundle is empty (unless it is one the rostering minimum needs).

Rows are dicts of the columns Portico uses (``spec.SPEC``); every other cell, passwords
included, is dropped as the row is parsed. A row missing a required cell is set aside
with the file, row and column.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field

from config.errors import RecordError, SourceDataError
from connectors.oneroster.package import Bundle, Packages
from connectors.oneroster.spec import CHANGE_COLUMNS, ROSTERING, SPEC, FileSpec

Row = dict[str, str]


@dataclass
class FilePlan:
    base: Bundle | None
    deltas: list[Bundle] = field(default_factory=list)


def plan(bundles: list[Bundle], file: str) -> FilePlan:
    """Which bundles make the file's current set: the newest bulk one and the deltas after it."""
    found = FilePlan(None)
    for b in bundles:
        mode = b.mode(file)
        if mode == "bulk":
            found = FilePlan(b)
        elif mode == "delta":
            found.deltas.append(b)
    return found


class Tables:
    """Current rows of each file over an ordered list of bundles (module docstring)."""

    def __init__(self, packages: Packages, bundles: list[Bundle]) -> None:
        self.packages = packages
        self.bundles = bundles
        self.version = bundles[-1].version
        self.errors: dict[str, list[RecordError]] = {}  # file -> rows set aside
        self.deleted: dict[str, set[str]] = {}  # file -> sourcedIds a delta marked tobedeleted

    def check(self) -> None:
        """Hold the run before reading anything when a delta has no base or the bundles
        cannot roster anybody (see module docstring)."""
        for file in SPEC[self.version]:
            p = plan(self.bundles, file)
            if p.base is None and p.deltas:
                raise SourceDataError(
                    f"{file}.csv: {p.deltas[0].name} holds a delta but no bundle holds the bulk file it "
                    "applies to; keep the last bulk bundle beside its deltas; run held"
                )
        for file in ROSTERING:
            if file != "academicSessions" and plan(self.bundles, file).base is None:
                raise SourceDataError(f"{file}.csv is absent from every bundle: nothing to roster; run held")

    def spec(self, file: str) -> FileSpec:
        return SPEC[self.version][file]

    def supplied(self, file: str) -> bool:
        """True when some bundle supplies the file (bulk or delta)."""
        return any(b.mode(file) != "absent" for b in self.bundles)

    def rows(self, file: str) -> Iterator[tuple[str, Row]]:
        """``(where, row)`` of the file's current set."""
        p = plan(self.bundles, file)
        if p.base is None and p.deltas:
            raise SourceDataError(
                f"{file}.csv: {p.deltas[0].name} holds a delta but no bundle holds the bulk file it "
                "applies to; keep the last bulk bundle beside its deltas; run held"
            )
        if p.base is None:
            if file in ROSTERING and file != "academicSessions":
                raise SourceDataError(f"{file}.csv is absent from every bundle: nothing to roster; run held")
            return
        changed: dict[str, tuple[str, str, Row]] = {}  # sourcedId -> (status, where, row)
        for bundle in p.deltas:
            for where, row in self._read(bundle, file, delta=True):
                sid = row["sourcedId"]
                held = changed.get(sid)
                if held is not None and row["dateLastModified"] < held[2]["dateLastModified"]:
                    continue  # an older change replayed after a newer one
                changed[sid] = (row["status"], where, row)
        for where, row in self._read(p.base, file, delta=False):
            if row["sourcedId"] in changed or row["status"] == "tobedeleted":
                continue  # replaced or removed by a delta (or marked so in the bulk file itself)
            yield where, row
        gone = self.deleted.setdefault(file, set())
        for status, where, row in changed.values():
            if status == "active":
                yield where, row
            else:
                gone.add(row["sourcedId"])

    def _read(self, bundle: Bundle, file: str, *, delta: bool) -> Iterator[tuple[str, Row]]:
        spec = self.spec(file)
        name = f"{file}.csv"
        errors = self.errors.setdefault(file, [])
        with self.packages.open(bundle, file) as fh:
            reader = csv.reader(fh, strict=False)
            try:
                header = next(reader, None)
                if header is None:
                    raise SourceDataError(
                        f"{bundle.name}: {name} is empty (the binding does not allow it); bundle held"
                    )
                header = [h.strip() for h in header]
                index = _bind(bundle.name, name, header, spec)
                width = len(header)
                needed = (*spec.required, *CHANGE_COLUMNS) if delta else spec.required
                for row in reader:
                    n = reader.line_num
                    if not row or not any(c.strip() for c in row):
                        continue
                    where = f"{bundle.name}: {name} row {n}"
                    if len(row) > width and any(c.strip() for c in row[width:]):
                        errors.append(
                            RecordError(f"{len(row)} fields where the header has {width}", where=where)
                        )
                        continue
                    cells = {col: (row[i].strip() if i < len(row) else "") for col, i in index.items()}
                    blank = next((c for c in needed if not cells.get(c)), None)
                    if blank is not None:
                        errors.append(RecordError("blank", where=where, field=blank))
                        continue
                    if delta and cells["status"] not in ("active", "tobedeleted"):
                        errors.append(RecordError("not active or tobedeleted", where=where, field="status"))
                        continue
                    yield where, cells
            except csv.Error as exc:
                raise SourceDataError(
                    f"{bundle.name}: {name} unreadable near line {reader.line_num} ({exc}); bundle held"
                ) from None


def _bind(bundle: str, name: str, header: list[str], spec: FileSpec) -> dict[str, int]:
    """Column positions by exact (case-sensitive) name; a required column missing holds the bundle."""
    positions: dict[str, int] = {}
    for i, h in enumerate(header):
        positions.setdefault(h.lstrip("\ufeff"), i)
    index = {c: positions[c] for c in (*spec.columns, *CHANGE_COLUMNS) if c in positions}
    problems = []
    for col in (*spec.required, *CHANGE_COLUMNS):
        if col in index:
            continue
        near = next((h for h in positions if h.casefold() == col.casefold()), None)
        problems.append(
            f"column {col!r} is missing"
            + (f" (found {near!r}: OneRoster headers are case-sensitive)" if near else "")
        )
    if problems:
        raise SourceDataError(f"{bundle}: {name}: {'; '.join(problems)}; bundle held")
    return index
