"""The Cloud-School-like CSV connector: an export folder read as full snapshots.

Every read is a full export (``Page.full`` is always True): a row missing from the
export is a delete. Each stream re-checks the whole export first (``Gate``), so a
manifest mismatch, a file still being written or a header-only file stops the run
before any of its records are used. Every page carries the export's content
fingerprint as its cursor: the same for every stream of one export, so the engine
can both skip an export it already published and notice a run that straddled two
exports. Bad rows come back in ``Page.rejected`` naming file, row and column, never
the cell; past ``max_rejected`` in a stream the export is held (``SourceDataError``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import structlog

from config.errors import RecordError, SourceDataError, SourceUnavailableError
from connectors import records as rec
from connectors.base import BuildContext, CheckResult, ConnectorType, KnownRows, Page, StreamInfo
from connectors.cloudschool import attendance, codes, mapping, normalize, normalize_work, values
from connectors.cloudschool import options as options_module
from connectors.cloudschool.export import Export, ExportFile, Gate, unchanged
from connectors.cloudschool.mapped.problems import mapped_problems
from connectors.cloudschool.mapped.read import MappedReader, local_today
from connectors.cloudschool.options import Options
from connectors.cloudschool.pager import Pager
from connectors.cloudschool.reader import copy_file, open_csv
from connectors.cloudschool.streams import CONVERTERS, STREAMS
from connectors.cloudschool.values import BadCell
from connectors.rules import Policy, Tally

log = structlog.get_logger(__name__)

# A repeated key is a bad row, named by the columns that make the key. The two bulk
# files are not checked: a set of millions of ids would cost more memory than the
# rest of the read, and the engine keys records by (kind, source_id) anyway.
KEY_COLUMNS: dict[str, str | None] = {
    "students": "StudentID",
    "contacts": "StudentID+ContactID",
    "classes": "ClassID",
    "class_members": "ClassID+StudentID",
    "timetable": "ClassID+WeekPattern+Day+Period",
    "attendance": None,
    "assignments": "AssignmentID",
    "assignment_results": None,
    "assessments": "StudentID+ClassID+ResultSet",
    "behaviour": "IncidentID",
    "achievements": "AwardID",
    "notices": "NoticeID",
    "progress_reports": "ReportID",
}


# Row keys (connectors.base.KnownRows) are used where one row gives at most one record
# and nothing merges across rows: the bulk files, most of an export's rows. The key
# check, a contact repeated per pair and merged grade rows keep the others on the full path.
KEYED_STREAMS = frozenset(
    stream
    for stream, (_, entities) in STREAMS.items()
    if entities and all(KEY_COLUMNS[e] is None for e in entities)
)
KEYED_KINDS = {entity: STREAMS[s][0][0] for s in KEYED_STREAMS for entity in STREAMS[s][1]}
# Entities whose records depend on the date of the read (leavers, pre-registrations).
DATED_ENTITIES = frozenset({"students"})
# What normalisation is made of (with the default attendance codes in codes.py): any
# change to this code re-keys every row once.
_SOURCES = (attendance, codes, normalize, normalize_work, values, options_module, rec)
_CODE = hashlib.sha256(
    Path(__file__).read_bytes() + b"".join(Path(m.__file__ or "").read_bytes() for m in _SOURCES)
).digest()


# Options that say where and when to read, never what a row means: left out of the salt,
# so moving the folder or raising max_rejected does not re-key every row.
_NOT_IN_SALT = {"path", "archive_dir", "manifest", "require_manifest", "settle_seconds", "max_rejected",
                "page_size"}  # fmt: skip


def row_salt(options: Options, entity: str, bound: mapping.Bound, today: dt.date) -> bytes:
    """Everything a row's record depends on besides its cells: the code, the options, the
    file's column positions and, for dated entities, the day (see KnownRows)."""
    meaning = options.model_dump(mode="json", exclude=_NOT_IN_SALT)
    dated = today.isoformat() if entity in DATED_ENTITIES else ""
    return _CODE + orjson.dumps([entity, meaning, sorted(bound.index.items()), bound.width, dated])


@dataclass
class FileStats:
    """Per-file counts of the last read, for logs and ``portico status``."""

    rows: int = 0
    landed: int = 0  # rows that gave records (a contacts row gives two, grade aspects merge)
    rejected: int = 0
    skipped: int = 0  # rows that are not records by design (an unmarked register "-")
    known: int = 0  # rows the engine already held unchanged (row keys): not normalised


class CloudSchoolConnector:
    """Reads one school's export folder (see module docstring)."""

    def __init__(
        self,
        name: str,
        options: Options,
        *,
        base_dir: Path,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.name = name
        self.options = options
        self.folder = base_dir / options.path
        self.archive = base_dir / options.archive_dir if options.archive_dir else None
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._gate = Gate(options, self.folder)
        self.stats: dict[str, FileStats] = {}
        # The mapped layout (options.records) reads its own sources: connectors/cloudschool/mapped.
        self.mapped = (
            MappedReader(name, options, self.folder, self.archive, local_today(options, self._clock))
            if options.mapped
            else None
        )

    def streams(self) -> list[StreamInfo]:
        if self.mapped is not None:
            return self.mapped.streams()
        enabled = set(mapping.enabled_entities(self.options))
        return [
            # An export is read whole and its files re-checked afterwards: one read is consistent.
            StreamInfo(name, kinds, consistent=True, row_keys=name in KEYED_STREAMS)
            for name, (kinds, entities) in STREAMS.items()
            if not entities or enabled & set(entities)
        ]

    def check(self) -> CheckResult:
        if self.mapped is not None:
            return CheckResult([m for _, m in mapped_problems(self.options, self.folder)])
        return CheckResult(mapping.check_mapping(self.options, self.folder))

    def access_sample(self, limit: int) -> Tally:
        """The access rule over the export's links now (connectors.base.AccessSampler)."""
        if self.mapped is not None:
            return self.mapped.access_sample(limit)
        tally = Tally(self.options.policy())
        for page in self.read("contacts", None, full=True):
            for r in page.records:
                if isinstance(r, rec.StudentContact) and tally.links < limit:
                    tally.add(r.access_rule, r.grants_access, r.contact_id)
            tally.set_aside += len(page.rejected)
        return tally

    def export(self) -> Export:
        """Check the export now (raises as ``read`` would); its fingerprint identifies it."""
        return self._gate.check(time.time())

    def read(
        self, stream: str, state: str | None, *, full: bool = False, known: KnownRows | None = None
    ) -> Iterator[Page]:
        """Pages of ``stream`` from the export as it is now. ``state`` and ``full`` do not
        change anything: an export is always complete, so every read is full. With
        ``known`` (streams in KEYED_STREAMS), rows the engine already holds are skipped."""
        if self.mapped is not None:
            yield from self.mapped.read(stream)
            return
        if stream not in STREAMS:
            raise ValueError(f"unknown stream {stream!r}")
        # Settling compares file mtimes with the wall clock; ``clock`` only says what
        # day it is at the school (leavers, pre-registrations), so tests can pin it.
        export = self._gate.check(time.time())
        today = self._clock().astimezone(ZoneInfo(self.options.timezone)).date()
        if stream == "school":
            yield Page([normalize.school(self.options, today)], full=True, cursor=export.fingerprint)
            return
        ctx = normalize.Ctx.build(self.options, today)
        pages = Pager(self.options.page_size, stream, self.options.max_rejected)
        files = [export.files[e] for e in STREAMS[stream][1] if e in export.files]
        for f in files:
            yield from self._read_file(f, ctx, pages, known)
        if self.archive is not None:  # before the last page, so a consumer that stops there still archives
            for f in files:
                copy_file(f.info.path, self.archive / export.fingerprint[:16])
        yield pages.flush(cursor=export.fingerprint)

    def close(self) -> None:
        """Nothing is held open between reads."""

    def _read_file(
        self, f: ExportFile, ctx: normalize.Ctx, pages: Pager, known: KnownRows | None
    ) -> Iterator[Page]:
        name, width, index = f.info.path.name, f.bound.width, f.bound.index
        stats = self.stats[name] = FileStats()
        convert = CONVERTERS[f.entity](lambda col: index.get(col, width), ctx)
        keeper = _Keeper(KEY_COLUMNS[f.entity])
        header: list[str] = []

        def reject(row_no: int, column: str, reason: str) -> None:
            stats.rejected += 1
            pos = index.get(column)
            field = header[pos].strip() if pos is not None else column
            pages.reject(RecordError(reason, where=f"{name} row {row_no}", field=field))

        # One loop for millions of rows: counters are locals and the bulk files (no
        # key check, one record per row) append straight to the page.
        bulk, size, batch = keeper.key is None, pages.size, pages.records
        n_rows = n_skipped = n_landed = n_known = reported = 0
        key = None
        if known is not None and bulk:
            # A row's key is taken before it is normalised: a known row costs a hash and a lookup.
            keyer = known.keyer(row_salt(self.options, f.entity, f.bound, ctx.today))
            take, dumps, keys = known.taker(KEYED_KINDS[f.entity]), orjson.dumps, pages.keys
            keys.extend([None] * (len(batch) - len(keys)))  # records of an earlier file have none
        else:
            keyer = None
        with open_csv(f.info.path, f.info.encoding, self.options.delimiter) as (head, rows):
            header = head or []
            for row_no, row in rows:
                if not row:
                    continue
                n_rows += 1
                if len(row) != width:
                    problem = _fit(row, width)
                    if problem:
                        reject(row_no, "", problem)
                        continue
                if keyer is not None:
                    key = keyer(dumps(row))  # JSON of the cells: an injective encoding
                    if take(key):
                        n_known += 1
                        continue
                row.append("")  # the sentinel absent optional columns point at
                try:
                    out = convert(row)
                except BadCell as bad:
                    reject(row_no, bad.field, bad.reason)
                    continue
                if out is None:
                    n_skipped += 1
                elif bulk:
                    n_landed += 1
                    batch.append(out)  # type: ignore[arg-type]
                    if keyer is not None:
                        keys.append(key)
                    if len(batch) >= size:
                        pages.known += n_known - reported
                        reported = n_known
                        yield pages.flush()
                        batch, keys = pages.records, pages.keys
                else:
                    duplicate = keeper.keep(out, row_no, pages)
                    if duplicate:
                        reject(row_no, "", duplicate)
                    else:
                        n_landed += 1
                    if len(pages.records) >= size:
                        yield pages.flush()
                        batch = pages.records
        for grade in keeper.grades.values():
            pages.records.append(grade)
        pages.known += n_known - reported
        stats.rows, stats.skipped, stats.landed, stats.known = n_rows, n_skipped, n_landed, n_known
        self._after_file(f, stats)
        if len(pages.records) >= size:
            yield pages.flush()

    def _after_file(self, f: ExportFile, stats: FileStats) -> None:
        name = f.info.path.name
        if not unchanged(f.info):
            raise SourceUnavailableError(f"{name}: changed while being read; trying again next run")
        if f.manifest is not None and f.manifest.rows != stats.rows:
            raise SourceDataError(f"{name}: {stats.rows} rows read, the manifest lists {f.manifest.rows}")
        log.info(
            "cloudschool.file_read",
            connector=self.name,
            file=name,
            rows=stats.rows,
            landed=stats.landed,
            rejected=stats.rejected,
            skipped=stats.skipped,
            known=stats.known,
        )


def _fit(row: list[str], width: int) -> str:
    """Make ``row`` as wide as the header, or say why it cannot be (empty when fine)."""
    n = len(row)
    if n < width:
        return f"{n} fields where the header has {width}"
    if any(c.strip() for c in row[width:]):
        return f"{n} fields where the header has {width} (an unquoted delimiter?)"
    del row[width:]  # trailing empty columns
    return ""


class _Keeper:
    """Key checks for the files that have them: a repeated key is a bad row, except a
    contact repeated by one-row-per-pair (first row wins) and the rows of one grade
    (mark and percentage arrive as separate aspects and are merged)."""

    def __init__(self, key: str | None) -> None:
        self.key = key
        self.seen: dict[tuple[str, str], int] = {}
        self.grades: dict[str, rec.Grade] = {}

    def keep(self, out: normalize.Converted, row_no: int, pages: Pager) -> str:
        """Add the row's records to ``pages``; a reason when the row repeats a key."""
        for record in out if isinstance(out, tuple) else (out,):
            assert record is not None
            first = self.seen.setdefault((record.kind, record.source_id), row_no)
            if isinstance(record, rec.Grade):
                if first == row_no:
                    self.grades[record.source_id] = record
                    continue
                merged = normalize_work.merge_grades(self.grades[record.source_id], record)
                if merged is None:
                    return f"duplicate {self.key} (first at row {first})"
                self.grades[record.source_id] = merged
            elif first == row_no:
                pages.records.append(record)
            elif not isinstance(record, rec.Contact):
                return f"duplicate {self.key} (first at row {first})"
        return ""


def build(name: str, options: Any, ctx: BuildContext) -> CloudSchoolConnector:
    return CloudSchoolConnector(name, options, base_dir=ctx.base_dir)


def check_config(options: Any, base_dir: Path) -> list[tuple[mapping.Key, str]]:
    """The mapping checked against the export folder (``registry.validate_connectors`` hook)."""
    if options.mapped:
        return mapped_problems(options, base_dir / options.path)
    return mapping.mapping_problems(options, base_dir / options.path)


def access_policy(options: Any) -> Policy:
    """The district's access rule (the preset's flags unless the YAML states one)."""
    return options.policy()  # type: ignore[no-any-return]


CONNECTOR_TYPE = ConnectorType("cloudschool", Options, build, check_config, access_policy)
