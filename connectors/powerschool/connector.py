"""The PowerSchool REST connector: real tables, each key in its own namespace, read-only.

A run reads the streams of :mod:`connectors.powerschool.streams` in order. What they
share is read once per run and kept on the connector (the engine builds a connector per
run): the ``/ws/v1`` school list, the terms and the current school year, the identity
maps (:mod:`connectors.powerschool.ids`) and the code tables. Reading the first stream
starts a new run.

Incremental streams keep, per table, the latest value of its cursor column
(``transaction_date``, or ``whenmodified`` in PowerTeacher Pro tables) and read
``q=<cursor>=ge=<value>``; the state is a JSON object of those values. A server that
refuses the cursor column (it does not exist there, or is not granted) gets a full read
of that table instead: the refusal is recognised by the field it names, not its wording.

Every page carries the key of each row it read (``Page.keys``) and ``read_keys`` re-reads
the key columns alone, so the engine's confirmation of a full read is cheap; a stream
whose every table fitted in one page is already consistent and is not read again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import structlog

from config.errors import PorticoError, SourceDataError
from connectors.base import BuildContext, CheckResult, ConnectorType, KnownRows, Page, Probe, StreamInfo
from connectors.http import ReadOnlyClient, json_body
from connectors.powerschool import declare as d
from connectors.powerschool import normalize as n
from connectors.powerschool import normalize_work as w
from connectors.powerschool import paging
from connectors.powerschool.auth import TokenSession
from connectors.powerschool.ids import SectionIds, StudentIds
from connectors.powerschool.options import Options
from connectors.powerschool.reader import CursorRefused, Reader, Sent
from connectors.powerschool.run import Run
from connectors.powerschool.streams import (
    BY_NAME,
    SCHEMA_CAP_KEY,
    V1_SCHOOL_CAP,
    StreamSpec,
    offered,
)
from connectors.powerschool.values import date, ident, parse_stamp
from connectors.records import Record

__all__ = ["CONNECTOR_TYPE", "Options", "PowerSchoolConnector", "build"]

log = structlog.get_logger("portico.connectors.powerschool")

Rows = list[dict[str, Any]]
Mapper = Callable[[dict[str, Any], n.Context], Any]
Fast = Callable[[dict[str, Any], n.Context], Record] | None

# Each primary source: how its rows become records.
_MAPPERS: dict[tuple[str, str], tuple[Mapper, Fast]] = {
    ("schools", "schools"): (n.school, None),
    ("students", "students"): (n.student, None),
    ("contacts", d.CONTACT_PERSONS.name): (n.contact, None),
    ("links", d.CONTACT_LINKS.name): (n.link, None),
    ("contacts", "students"): (n.legacy_contacts, None),
    ("links", "students"): (n.legacy_links, None),
    ("sections", "sections"): (n.section, None),
    ("enrollments", "cc"): (n.enrollment, None),
    ("timetable", "section_meeting"): (n.timetable, None),
    ("attendance", "attendance"): (w.attendance, w.attendance_fast),
    ("assignments", "assignmentsection"): (w.assignment, None),
    ("results", "assignmentscore"): (w.result, w.result_fast),
    ("grades", "storedgrades"): (w.stored_grade, None),
    ("grades", "pgfinalgrades"): (w.final_grade, None),
    ("behaviour", "log"): (w.behaviour, None),
    ("notices", "*"): (w.notice, None),
    ("reports", "*"): (w.report, None),
}

# Streams whose rows carry no schoolid: with ``school_ids`` set, their records are kept when
# their student (or section) is at one of those schools.
_SCOPED_BY_STUDENT = {"result", "grade", "behaviour", "report"}


def _source_name(source: d.Read | d.Query) -> str:
    return source.name if isinstance(source, d.Query) else source.table


def _key_text(value: Any) -> str:
    if type(value) is str and value.isdigit():  # the common case, as the wire sends it
        return value
    try:
        return ident(value)
    except (TypeError, ValueError):
        return "" if value is None else str(value)


class PowerSchoolConnector:
    """Reads a PowerSchool server into canonical records (see module docstring)."""

    run: Run  # what this run's streams share; a new one when the first stream is read

    def __init__(self, name: str, options: Options, session: TokenSession) -> None:
        self.name = name
        self.options = options
        self.session = session
        self.client = session.client
        self.choices = options.choices()
        self._pager = paging.Pager(name)
        self.sent: list[Sent] | None = None  # tests: set to [] to record every request
        self.reader = Reader(session, self._pager, self._page_size, on_request=self._record)
        self._metadata: dict[str, Any] | None = None
        self._retries_seen = 0
        self._no_cursor: set[str] = set()
        self._atomic: dict[str, list[str]] = {}
        self._new_run()

    def _record(self, sent: Sent) -> None:
        if self.sent is not None:
            self.sent.append(sent)

    def _new_run(self) -> None:
        self.run = Run(self.options, self.reader, self._meta, self._page_size)
        self._atomic.clear()

    # --- contract ------------------------------------------------------------------------

    def _specs(self) -> list[StreamSpec]:
        return offered(self.choices, self.options.streams)

    def streams(self) -> list[StreamInfo]:
        return [StreamInfo(s.name, (s.kind,), incremental=s.incremental) for s in self._specs()]

    def check(self) -> CheckResult:
        try:
            self._meta()
            self.reader.v1_list("/ws/v1/district/school", "schools", "school", V1_SCHOOL_CAP)
        except PorticoError as exc:
            return CheckResult([f"connector {self.name}: {exc}"])
        return CheckResult()

    def probe(self, timeout: float) -> Probe:
        """A fresh token from the token endpoint, once, within ``timeout`` (connectors.base.Prober)."""
        self.client.limit(timeout=timeout, attempts=1)
        self.session.invalidate()
        problem = None
        try:
            self.session.token()
        except PorticoError as exc:
            problem = f"{self.options.base_url}: {exc}"
        when = None
        if self.session.server_date:
            with contextlib.suppress(TypeError, ValueError):
                when = email.utils.parsedate_to_datetime(self.session.server_date)
        return Probe(problem, when)

    def read(
        self, stream: str, state: str | None, *, full: bool = False, known: KnownRows | None = None
    ) -> Iterator[Page]:
        specs = self._specs()
        spec = BY_NAME.get(stream)
        if spec is None or spec not in specs:
            raise KeyError(stream)
        if spec is specs[0]:
            self._new_run()
        # The keys kept for a stream that fitted one page serve its confirmation, which comes
        # before the next stream is read: a later read_keys of it reads the key columns again.
        self._atomic.clear()
        self._retries_seen = self.client.retries
        return self._read(spec, None if full or not spec.incremental else state)

    def read_keys(self, stream: str) -> Iterator[list[str]]:
        """The keys of every row of ``stream``, from its key columns alone (``Page.keys``)."""
        if stream in self._atomic:
            yield list(self._atomic[stream])
            return
        spec = BY_NAME[stream]
        prefix = len(spec.primary(self.choices)) > 1
        for source in spec.primary(self.choices):
            for _, rows, _, _ in self._source_pages(spec, source, None, keys_only=True):
                yield self._keys(source, rows, prefix)

    def close(self) -> None:
        self._pager.close()
        self.client.close()

    # --- metadata, page sizes ----------------------------------------------------------------

    def _meta(self) -> dict[str, Any]:
        if self._metadata is None:
            body = json_body(self.session.request("GET", "/ws/v1/metadata"))
            meta = body.get("metadata") if isinstance(body, dict) else None
            if not isinstance(meta, dict):
                raise SourceDataError("GET /ws/v1/metadata answered without a metadata block")
            self._metadata = meta
        return self._metadata

    def _page_size(self, cap_key: str) -> int:
        try:
            cap = int(self._meta()[cap_key])
        except (KeyError, TypeError, ValueError):
            cap = 100  # PowerSchool's documented default page size
        size = self.options.page_size or cap
        return max(1, min(size, cap))

    def _retries(self) -> int:
        delta = self.client.retries - self._retries_seen
        self._retries_seen = self.client.retries
        return delta

    # --- reading a stream -------------------------------------------------------------------

    def _clauses(self, spec: StreamSpec, source: d.Read) -> list[str]:
        """The year filter of a primary read (the school filter is added per pass)."""
        if spec.name in ("notices", "reports", "schools"):
            return []
        yearid, start, _ = self.run.year()
        return {
            "students": [f"exitdate=ge={start.isoformat()}"],
            "sections": [f"termid=ge={yearid * 100}"],
            "cc": [f"dateleft=ge={start.isoformat()}"],
            "section_meeting": [f"year_id=={yearid}"],
            "attendance": [f"att_date=ge={start.isoformat()}"],
            "assignmentsection": [f"yearid=={yearid}"],
            "assignmentscore": [f"whencreated=ge={(start - dt.timedelta(days=31)).isoformat()}T00:00:00"],
            "storedgrades": [f"termid=ge={yearid * 100}"],
            "pgfinalgrades": [f"startdate=ge={start.isoformat()}"],
            "log": [f"entry_date=ge={start.isoformat()}"],
        }.get(source.table, [])

    def _passes(self, spec: StreamSpec, source: d.Read) -> list[list[str]]:
        """The ``q=`` of each pass over a primary table: one per selected school where the
        table has ``schoolid``, one per mapped log type for LOG."""
        base = self._clauses(spec, source)
        passes = [base]
        selected = self.run.selected() if spec.name not in ("contacts", "links", "notices") else None
        if selected is not None and "schoolid" in source.filters:
            passes = [[*p, f"schoolid=={number}"] for p in passes for number in selected]
        if source is d.LOG:
            self.run.need("log_types")
            passes = [[*p, f"logtypeid=={type_id}"] for p in passes for type_id in self.run.log_type_ids]
        return passes

    def _source_pages(
        self, spec: StreamSpec, source: d.Read | d.Query, since: str | None, *, keys_only: bool = False
    ) -> Iterator[tuple[int, Rows, bool, bool]]:
        """(count of the pass, rows, last page of the pass, pass fitted one page) of a source."""
        if isinstance(source, d.Query):
            count, pages = self.reader.query(source, SCHEMA_CAP_KEY)
            size = self._page_size(SCHEMA_CAP_KEY)
            for _, rows, last in pages:
                yield count, rows, last, count <= size
            return
        if source is d.V1_SCHOOLS:
            rows = list(self.run.schools())  # a copy: the reader of a page may clear it
            yield len(rows), rows, True, True
            return
        cursor = source.cursor if spec.incremental and source.table not in self._no_cursor else None
        columns: tuple[str, ...] = source.key if keys_only else source.columns
        if cursor and not keys_only:
            columns = (*columns, cursor)
        size = self._page_size(SCHEMA_CAP_KEY)
        for clauses in self._passes(spec, source):
            q = [*clauses, *([f"{cursor}=ge={_since(source, since)}"] if cursor and since else [])]
            count, pages = self.reader.table(source, columns, q, SCHEMA_CAP_KEY, cursor=cursor)
            for _, rows, last in pages:
                yield count, rows, last, count <= size

    def _keys(self, source: d.Read | d.Query, rows: Rows, prefix: bool) -> list[str]:
        head = f"{_source_name(source)}:" if prefix else ""
        if isinstance(source, d.Query):
            return [head + _key_text(r.get(source.key) if isinstance(r, dict) else None) for r in rows]
        key = ("id",) if source is d.V1_SCHOOLS else source.key
        if len(key) == 1:
            (one,) = key
            return [head + _key_text(r.get(one)) if isinstance(r, dict) else head for r in rows]
        return [
            head + "|".join(_key_text(r.get(k)) for k in key) if isinstance(r, dict) else head for r in rows
        ]

    def _read(self, spec: StreamSpec, state: str | None) -> Iterator[Page]:
        cursors = _load_state(state)
        sources = spec.primary(self.choices)
        ctx = self.run.need(*Run.NEEDS[spec.name])
        if spec.name == "students" and not self.choices.legacy_contacts:
            self.run.need("emails")
        prefix = len(sources) > 1
        position = 1
        new_cursors = dict(cursors)
        atomic: list[str] | None = []
        emitted = False
        selected = set(self.run.selected() or ()) or None
        # Students and sections of every school, read in full, are also the identity maps:
        # built page by page (key columns only), never from the stream's rows held whole.
        learned = self._learning(spec) if selected is None else None
        for i, source in enumerate(sources):
            name = _source_name(source)
            mapper, fast = _MAPPERS.get((spec.name, name)) or _MAPPERS[(spec.name, "*")]
            attempt = 0
            while True:
                since = (
                    cursors.get(name)
                    if isinstance(source, d.Read) and source.table not in self._no_cursor
                    else None
                )
                cursor_col = source.cursor if isinstance(source, d.Read) and spec.incremental else None
                if cursor_col and source.table in self._no_cursor:  # type: ignore[union-attr]
                    cursor_col = None
                latest = since
                started = False
                try:
                    for count, rows, last, single in self._source_pages(spec, source, since):
                        started = True
                        if not single:
                            atomic = None
                        built = n.build_many(mapper, rows, ctx, spec.name, position, fast)
                        if built.unresolved and self.run.refresh(spec.name):
                            built = n.build_many(mapper, rows, ctx, spec.name, position, fast)
                        position += len(rows)
                        keys = self._keys(source, rows, prefix)
                        if atomic is not None:
                            atomic.extend(keys)
                        if cursor_col:
                            latest = paging.latest(rows, cursor_col, latest)
                        records = built.records
                        if selected is not None and spec.kind in _SCOPED_BY_STUDENT | {"assignment"}:
                            records = [rec for rec in records if self._in_scope(rec, selected)]
                        elif spec.kind == "school" and self.options.school_ids is not None:
                            records = [rec for rec in records if rec.source_id in self.options.school_ids]
                        if learned is not None:
                            for r in rows:
                                if isinstance(r, dict):
                                    learned.add(r)
                        final = last and i == len(sources) - 1
                        if cursor_col and last and latest is not None:
                            new_cursors[name] = latest
                        emitted = True
                        # The page's decoded rows are done with: free them while the engine
                        # stages the records, rather than when the next page replaces them.
                        rows.clear()
                        yield Page(
                            records,
                            built.rejected,
                            full=since is None,
                            cursor=_dump_state(new_cursors) if final and spec.incremental else None,
                            expected_total=count,
                            retries=self._retries(),
                            keys=keys,
                        )
                    break
                except CursorRefused:
                    if started or attempt:
                        raise SourceDataError(
                            f"{name} refused its cursor column {cursor_col} in the middle of a read"
                        ) from None
                    attempt += 1
                    self._no_cursor.add(name)
                    new_cursors.pop(name, None)
                    log.info(
                        "sis.full_fallback", stream=spec.name, table=name, reason="cursor column refused"
                    )
        if atomic is not None and not any(cursors.get(_source_name(s)) for s in sources):
            self._atomic[spec.name] = atomic
        if learned is not None:
            self._learn(spec, learned)
        if spec.name == "students":  # the students' e-mail map is for this stream only
            ctx.student_emails = {}
            self.run.loaded.discard("emails")
        if not emitted:
            yield Page([], full=True, expected_total=0, retries=self._retries(), keys=[])

    @staticmethod
    def _learning(spec: StreamSpec) -> StudentIds | SectionIds | None:
        """An empty identity map for a stream that is one (students, sections), else None."""
        if spec.name == "students":
            return StudentIds()
        if spec.name == "sections":
            return SectionIds()
        return None

    def _learn(self, spec: StreamSpec, ids: StudentIds | SectionIds) -> None:
        """A full read of the students (or sections) of every school is the identity map."""
        ctx = self.run.context()
        if isinstance(ids, StudentIds):
            ctx.students = ids
        else:
            ctx.sections = ids
        self.run.loaded.add(spec.name)

    def _in_scope(self, rec: Record, selected: set[str]) -> bool:
        ctx = self.run.context()
        student = getattr(rec, "student_id", None)
        if student is not None:
            return ctx.students.school_of.get(student) in selected
        section = getattr(rec, "section_id", None)
        return section is not None and ctx.sections.info.get(section, ("", ""))[0] in selected


def _load_state(state: str | None) -> dict[str, str]:
    """Cursors per table from the saved state; anything unreadable means a full read."""
    if not state:
        return {}
    try:
        value = json.loads(state)
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str) and parse_stamp(v)}


def _since(read: d.Read, value: str) -> str:
    """The ``q=`` bound of an incremental read: the cursor, or for a date cursor the day
    ``lookback_days`` before it."""
    if not read.lookback_days:
        return value
    return (date(value) - dt.timedelta(days=read.lookback_days)).isoformat()


def _dump_state(cursors: dict[str, str]) -> str | None:
    return json.dumps(cursors, sort_keys=True) if cursors else None


def build(name: str, options: Options, ctx: BuildContext) -> PowerSchoolConnector:
    """Resolve the secrets and wire the read-only client (``ctx.transport`` in tests/demo)."""
    client = ReadOnlyClient(
        options.base_url,
        transport=ctx.transport if isinstance(ctx.transport, httpx.BaseTransport) else None,
        timeout=options.timeout,
        sleep=ctx.sleep or time.sleep,
        max_attempts=options.max_attempts,
    )
    session = TokenSession(
        client,
        ctx.secrets.resolve(options.client_id),
        ctx.secrets.resolve(options.client_secret),
        token_path=options.token_path,
    )
    return PowerSchoolConnector(name, options, session)


CONNECTOR_TYPE = ConnectorType("powerschool", Options, build)
