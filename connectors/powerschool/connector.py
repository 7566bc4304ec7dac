"""The PowerSchool-like REST connector: count-driven paging, incremental cursors, read-only.

Every list is read by first asking its ``/count`` and then fetching exactly the pages
that count implies; if the rows received differ from the count the stream is stopped
with SourceDataError (the engine retries the run) rather than published partially.
Incremental streams keep the largest ``transaction_date`` seen as their cursor and
read ``q=transaction_date=ge=<cursor>``; a source answering ``Invalid field
transaction_date`` gets a full pull of that table instead.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import httpx
import structlog

from config.errors import PorticoError, SourceDataError
from connectors.base import BuildContext, CheckResult, ConnectorType, KnownRows, Page, StreamInfo
from connectors.http import ReadOnlyClient, json_body
from connectors.powerschool import normalize, paging
from connectors.powerschool.auth import TokenSession
from connectors.powerschool.options import Options
from connectors.powerschool.streams import (
    BY_NAME,
    SCHEMA_CAP_KEY,
    STREAMS,
    STUDENT_EXPANSIONS,
    V1_CAP_KEYS,
    StreamSpec,
)

__all__ = ["CONNECTOR_TYPE", "Options", "PowerSchoolConnector", "build"]


log = structlog.get_logger("portico.connectors.powerschool")
_INVALID_TXN = "Invalid field transaction_date"


class _NoTransactionDate(Exception):
    """The table has no transaction_date column: read it in full."""


class PowerSchoolConnector:
    """Reads a PowerSchool-like SIS into canonical records (see module docstring)."""

    def __init__(self, name: str, options: Options, session: TokenSession) -> None:
        self.name = name
        self.options = options
        self.session = session
        self.client = session.client
        self._metadata: dict[str, Any] | None = None
        self._retries_seen = 0
        self._pager = paging.Pager(name)

    # --- contract ------------------------------------------------------------------------

    def streams(self) -> list[StreamInfo]:
        return [StreamInfo(s.name, (s.kind,), incremental=s.incremental) for s in self._specs()]

    def _specs(self) -> list[StreamSpec]:
        chosen = self.options.streams
        return [s for s in STREAMS if chosen is None or s.name in chosen]

    def check(self) -> CheckResult:
        try:
            self._meta()
            self._count(BY_NAME["schools"], None, {})
        except PorticoError as exc:
            return CheckResult([f"connector {self.name}: {exc}"])
        return CheckResult()

    def read(
        self, stream: str, state: str | None, *, full: bool = False, known: KnownRows | None = None
    ) -> Iterator[Page]:
        spec = BY_NAME.get(stream)
        if spec is None or spec not in self._specs():
            raise KeyError(stream)
        self._retries_seen = self.client.retries
        if spec.api in ("district", "school"):
            return self._read_v1(spec)
        if paging.parse_txn(state) is None:
            state = None  # absent or unreadable: read in full
        since = state if (spec.incremental and state and not full) else None
        return self._read_schema(spec, since, state)

    def close(self) -> None:
        self._pager.close()
        self.client.close()

    # --- helpers -------------------------------------------------------------------------

    def _get(self, spec: StreamSpec, path: str, params: dict[str, Any], accept: tuple[int, ...] = ()) -> Any:
        method = "POST" if spec.api == "query" else "GET"
        # PowerQueries take their arguments as a JSON body; these take none.
        body: dict[str, Any] | None = {} if method == "POST" else None
        response = self.session.request(method, path, params=params, json=body, accept=accept)
        if response.status_code == 400:
            message = json_body(response)
            if isinstance(message, dict) and message.get("message") == _INVALID_TXN:
                raise _NoTransactionDate()
            raise SourceDataError(f"{method} {path} answered 400")
        return json_body(response)

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

    def _count(self, spec: StreamSpec, school_id: str | None, params: dict[str, Any]) -> int:
        path = spec.list_path(school_id) + "/count"
        body = self._get(spec, path, params, accept=(400,))
        try:
            n = (
                normalize.v1_count(body)
                if spec.api in ("district", "school")
                else normalize.schema_count(body)
            )
        except (KeyError, TypeError, ValueError):
            raise SourceDataError(f"{path} answered without a count") from None
        if n < 0:
            raise SourceDataError(f"{path} answered a negative count")
        return n

    def _retries(self) -> int:
        delta = self.client.retries - self._retries_seen
        self._retries_seen = self.client.retries
        return delta

    def _fetch_pages(
        self, spec: StreamSpec, school_id: str | None, params: dict[str, Any], count: int, size: int
    ) -> Iterator[tuple[int, list[dict[str, Any]], bool]]:
        path = spec.list_path(school_id)

        def fetch(page: int) -> list[dict[str, Any]]:
            body = self._get(spec, path, {**params, "page": page, "pagesize": size}, accept=(400,))
            return paging.rows_of(spec, body, page)

        return self._pager.pages(spec.name, fetch, count, size)

    # --- /ws/v1 --------------------------------------------------------------------------

    def _schools(self) -> list[dict[str, Any]]:
        spec = BY_NAME["schools"]
        count = self._count(spec, None, {})
        size = self._page_size(V1_CAP_KEYS["school"])
        rows = [row for _, page, _ in self._fetch_pages(spec, None, {}, count, size) for row in page]
        wanted = self.options.school_ids
        return [r for r in rows if wanted is None or str(r.get("id")) in wanted]

    def _read_v1(self, spec: StreamSpec) -> Iterator[Page]:
        schools = self._schools()
        if spec.kind == "school":
            records, rejected = normalize.build_many("school", schools, spec.name, 1)
            yield Page(records, rejected, full=True, expected_total=len(schools), retries=self._retries())
            return
        params = {"expansions": STUDENT_EXPANSIONS} if spec.kind == "student" else {}
        size = self._page_size(V1_CAP_KEYS[spec.kind])
        counts = [(str(s.get("id")), self._count(spec, str(s.get("id")), {})) for s in schools]
        total = sum(n for _, n in counts)
        offset = 0
        emitted = False
        for school_id, count in counts:
            for first, rows, _ in self._fetch_pages(spec, school_id, params, count, size):
                records, rejected = normalize.build_many(spec.kind, rows, spec.name, offset + first)
                emitted = True
                yield Page(records, rejected, full=True, expected_total=total, retries=self._retries())
            offset += count
        if not emitted:
            yield Page([], full=True, expected_total=0, retries=self._retries())

    # --- /ws/schema ----------------------------------------------------------------------

    def _year_start(self) -> str | None:
        years = [s.get("school_year") for s in self._schools()]
        starts = [y.get("start_date") for y in years if isinstance(y, dict)]
        found = sorted(d for d in starts if isinstance(d, str) and d)
        return found[0] if found else None

    def _read_schema(self, spec: StreamSpec, since: str | None, state: str | None) -> Iterator[Page]:
        clauses = []
        if self.options.school_ids and spec.kind not in ("contact", "notice"):
            # Contacts have no school; district-wide notices would be lost to the filter.
            clauses.append(f"schoolid=in=({','.join(self.options.school_ids)})")
        if spec.kind == "attendance":
            start = self._year_start()  # only this school year's marks
            if start:
                clauses.append(f"att_date=ge={start}")
        try:
            yield from self._pull(spec, clauses, since, state, with_txn=spec.incremental)
        except _NoTransactionDate:
            # The source lacks transaction_date here: pull the table in full, no cursor.
            log.info("sis.full_fallback", stream=spec.name, reason="Invalid field transaction_date")
            yield from self._pull(spec, clauses, None, None, with_txn=False)

    def _pull(
        self, spec: StreamSpec, clauses: list[str], since: str | None, state: str | None, *, with_txn: bool
    ) -> Iterator[Page]:
        columns = spec.columns() + (["transaction_date"] if with_txn else [])
        q = clauses + ([f"transaction_date=ge={since}"] if since else [])
        params: dict[str, Any] = {"projection": ",".join(columns)}
        if q:
            params["q"] = ";".join(q)
        count = self._count(spec, None, params)
        size = self._page_size(SCHEMA_CAP_KEY)
        full = since is None
        cursor = state if with_txn else None
        pages = self._fetch_pages(spec, None, params, count, size)
        # An empty table still yields one (empty) page, after the source confirmed it is empty.
        fetched = pages if count else itertools.chain(pages, [(1, [], True)])
        for first, rows, last in fetched:
            records, rejected = normalize.build_many(spec.kind, rows, spec.name, first)
            if with_txn:
                cursor = paging.latest(rows, cursor)
            if last and cursor is not None and paging.parse_txn(cursor) is None:
                cursor = None  # an unreadable date: no cursor, so the next run reads in full
            yield Page(
                records,
                rejected,
                full=full,
                cursor=cursor if last else None,
                expected_total=count,
                retries=self._retries(),
            )


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
