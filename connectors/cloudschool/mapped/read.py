"""Reading a mapped layout: streams of canonical records from the mapped sources.

Each stream's records come from every mapping of its entities (a list of mappings is
a union). Records of roster-like entities are held until their files are read: a
record repeated by several rows (a student on each of their contacts' rows, a contact
for each child, a link stated on both sides) is one record when the rows agree, and
when they disagree every row involved is set aside, naming the rows and the fields
(never the values). The bulk entities (attendance, results) stream straight through.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import structlog

from config.errors import RecordError, SourceChangedError, SourceDataError, SourceUnavailableError
from connectors import records as rec
from connectors.base import Page, StreamInfo
from connectors.cloudschool import normalize, normalize_work
from connectors.cloudschool import streams as preset
from connectors.cloudschool.export import unchanged
from connectors.cloudschool.mapped.check import columns_of
from connectors.cloudschool.mapped.compile import Compiled, KeyIndex, MissingColumn, build_index
from connectors.cloudschool.mapped.convert import CONVERTERS, ctx_for
from connectors.cloudschool.mapped.files import MappedGate, Sources
from connectors.cloudschool.mapped.options import RecordMapping
from connectors.cloudschool.mapped.tables import Wide
from connectors.cloudschool.normalize import Converted
from connectors.cloudschool.pager import Pager
from connectors.cloudschool.reader import copy_file
from connectors.cloudschool.values import BadCell
from connectors.rules import Tally

if TYPE_CHECKING:
    from connectors.cloudschool.options import Options

log = structlog.get_logger(__name__)

# stream -> (record kinds, mapped entities read for it): the preset's, links apart.
STREAMS = {**preset.STREAMS, "contacts": (("contact", "link"), ("contacts", "links"))}
BULK = frozenset({"attendance", "assignment_results"})


@dataclass
class SourceStats:
    rows: int = 0
    landed: int = 0
    rejected: int = 0
    skipped: int = 0  # rows a where filter left out, blank lists, unmarked registers
    repeated: int = 0  # rows that repeated a record they agreed with


class _Held:
    """Records of keyed entities, kept until their files are read (module docstring)."""

    def __init__(self) -> None:
        self.first: dict[tuple[str, str], tuple[rec.Record, str]] = {}
        self.conflicts: dict[tuple[str, str], list[tuple[str, str]]] = {}

    def add(self, record: rec.Record, where: str) -> str:
        """'' when kept, 'repeat' when an agreeing repeat, else the conflict's reason."""
        key = (record.kind, record.source_id)
        first = self.first.get(key)
        if first is None:
            self.first[key] = (record, where)
            return ""
        old, old_where = first
        if isinstance(record, rec.Grade) and isinstance(old, rec.Grade):
            merged = normalize_work.merge_grades(old, record)
            if merged is not None:
                self.first[key] = (merged, old_where)
                return "repeat"
        elif old == record:
            return "repeat"
        differ = [
            f.name for f in dataclasses.fields(record) if getattr(record, f.name) != getattr(old, f.name)
        ] or ["values"]
        reason = f"disagrees with {old_where} about the same {record.kind} ({', '.join(differ)})"
        self.conflicts.setdefault(key, []).append((where, reason))
        return reason

    def kept(self) -> Iterator[tuple[rec.Record, str]]:
        """Each record no row disagreed about, with the row it was first read from."""
        for key, (record, where) in self.first.items():
            if key not in self.conflicts:
                yield record, where

    def first_rows(self) -> Iterator[RecordError]:
        """The first row of each conflict, set aside too (it was held, not yet published)."""
        for key, found in self.conflicts.items():
            record, where = self.first[key]
            yield RecordError(
                f"disagrees with {found[0][0]} about the same {record.kind}", where=where, field=""
            )


class MappedReader:
    """Reads one school's mapped export (see module docstring)."""

    def __init__(
        self, name: str, options: Options, folder: Path, archive: Path | None, today: Callable[[], dt.date]
    ):
        self.name = name
        self.options = options
        self.folder = folder
        self.archive = archive
        self.today = today
        self.gate = MappedGate(options, folder)
        self.stats: dict[str, SourceStats] = {}
        self.fingerprint: str | None = None  # of the export this run's streams read (one per run)

    def streams(self) -> list[StreamInfo]:
        mapped = {e for e in self.options.records}
        return [
            StreamInfo(name, kinds, consistent=True)
            for name, (kinds, entities) in STREAMS.items()
            if not entities or mapped & set(entities)
        ]

    def read(self, stream: str) -> Iterator[Page]:
        if stream not in STREAMS:
            raise ValueError(f"unknown stream {stream!r}")
        sources = self.gate.check(time.time())
        if self.fingerprint is not None and self.fingerprint != sources.fingerprint:
            # Streams read before this one came from another export: read the run again.
            self.fingerprint = sources.fingerprint
            raise SourceChangedError("the export changed during the run")
        self.fingerprint = sources.fingerprint
        today = self.today()
        if stream == "school":
            yield Page([normalize.school(self.options, today)], full=True, cursor=sources.fingerprint)
            return
        pages = Pager(self.options.page_size, stream, self.options.max_rejected)
        indexes: dict[tuple[str, tuple[str, ...]], KeyIndex] = {}

        def index(source: str, columns: list[str]) -> KeyIndex:
            key = (source, tuple(columns))
            if key not in indexes:
                indexes[key] = build_index(sources.tables[source], columns)
            return indexes[key]

        contact_ids: set[str] | None = None
        for entity in STREAMS[stream][1]:
            held = _Held() if entity not in BULK else None
            for mapping in self.options.mappings(entity):
                yield from self._read_mapping(entity, mapping, sources, index, today, pages, held)
            if held is None:
                continue
            for err in held.first_rows():
                pages.reject(err)
            kept = list(held.kept())
            if entity == "contacts":
                contact_ids = {r.source_id for r, _ in kept}
            for record, where in kept:
                if (
                    contact_ids is not None
                    and isinstance(record, rec.StudentContact)
                    and record.contact_id not in contact_ids
                ):
                    pages.reject(
                        RecordError("names no contact of records.contacts", where=where, field="ContactID")
                    )
                    continue
                pages.records.append(record)
        if self.archive is not None:
            for info in sources.infos.values():
                copy_file(info.path, self.archive / sources.fingerprint[:16])
        yield pages.flush(cursor=sources.fingerprint)

    def _read_mapping(
        self,
        entity: str,
        mapping: RecordMapping,
        sources: Sources,
        index: Callable[[str, list[str]], KeyIndex],
        today: dt.date,
        pages: Pager,
        held: _Held | None,
    ) -> Iterator[Page]:
        columns, _ = columns_of(entity)
        try:
            compiled = Compiled(
                mapping,
                columns,
                sources.tables,
                index,
                (
                    self.options.sources[mapping.source].flag_true or self.options.flag_true,
                    self.options.sources[mapping.source].flag_false or self.options.flag_false,
                ),
            )
        except MissingColumn as exc:
            raise SourceDataError(f"{exc}; export held (records.{entity})") from None
        positions = {c: i for i, c in enumerate(columns)}
        convert = CONVERTERS[entity](
            lambda col: positions.get(col, len(columns)), ctx_for(self.options, mapping, today)
        )
        table = compiled.table
        stats = self.stats[f"{table.name}: {entity}"] = SourceStats()
        try:
            for out in compiled.run():
                if out.reason is not None:
                    stats.rejected += 1
                    pages.reject(RecordError(out.reason, where=out.where, field=out.bad_field or ""))
                    continue
                if out.cells is None:
                    stats.skipped += 1
                    continue
                try:
                    made: Converted = convert([*out.cells, ""])
                except BadCell as bad:
                    stats.rejected += 1
                    field_name = compiled.blame.get(bad.field, bad.field)
                    pages.reject(RecordError(bad.reason, where=out.where, field=field_name))
                    continue
                if made is None:
                    stats.skipped += 1
                    continue
                for record in made if isinstance(made, tuple) else (made,):
                    if held is None:
                        stats.landed += 1
                        pages.records.append(record)
                        continue
                    verdict = held.add(record, out.where)
                    if verdict == "repeat":
                        stats.repeated += 1
                    elif verdict:
                        stats.rejected += 1
                        pages.reject(RecordError(verdict, where=out.where, field=""))
                    else:
                        stats.landed += 1
                if len(pages.records) >= pages.size and held is None:
                    yield pages.flush()
        except Wide as wide:
            raise SourceDataError(f"{table.name} {table.unit} {wide.row_no}: {wide}; export held") from None
        stats.rows = compiled.rows_read
        info = sources.infos[mapping.source]
        entry = sources.manifest.get(mapping.source)
        if not unchanged(info):
            raise SourceUnavailableError(f"{table.name}: changed while being read; trying again next run")
        if entry is not None and entry.rows != stats.rows and not mapping.explode:
            raise SourceDataError(f"{table.name}: {stats.rows} rows read, the manifest lists {entry.rows}")
        log.info(
            "cloudschool.source_read",
            connector=self.name,
            file=table.name,
            entity=entity,
            rows=stats.rows,
            landed=stats.landed,
            repeated=stats.repeated,
            rejected=stats.rejected,
            skipped=stats.skipped,
        )

    def access_sample(self, limit: int) -> Tally:
        tally = Tally(self.options.policy())
        for page in self.read("contacts"):
            for r in page.records:
                if isinstance(r, rec.StudentContact) and tally.links < limit:
                    tally.add(r.access_rule, r.grants_access, r.contact_id)
            tally.set_aside += len(page.rejected)
        return tally


def local_today(options: Options, clock: Callable[[], dt.datetime]) -> Callable[[], dt.date]:
    return lambda: clock().astimezone(ZoneInfo(options.timezone)).date()
