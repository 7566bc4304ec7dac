"""The PowerSchool-like simulator's request handling, independent of any web framework.

``PowerSchoolSim.respond`` takes a method, path, query, headers and body and returns a
:class:`SimResponse`; :mod:`simulators.powerschool.server` serves it over HTTP, and tests
may call it through ``httpx.MockTransport(sim.handle)``. Fault knobs live in
:class:`Faults`; counters (``requests``, ``writes``, ``tokens_issued``) prove what a
client did.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from simulators.powerschool import wire
from simulators.powerschool.faults import Faults
from simulators.powerschool.query import BadQuery, parse_q
from simulators.powerschool.state import District, SimState
from simulators.powerschool.tables import BY_TABLE, COLUMNS, TABLES, Table


@dataclass
class SimResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False  # the server closes the connection after half the body


def _json(status: int, value: Any, **headers: str) -> SimResponse:
    return SimResponse(status, orjson.dumps(value), {"content-type": "application/json", **headers})


def _message(status: int, text: str) -> SimResponse:
    return _json(status, {"message": text})


_TOKEN = re.compile(r"^/oauth/access_token/?$")
_SCHOOL_RES = re.compile(r"^/ws/v1/school/([^/]+)/(student|section)(/count)?$")
_TABLE = re.compile(r"^/ws/schema/table/([^/]+)(/count)?$")
_QUERY = re.compile(r"^/ws/schema/query/([^/]+)(/count)?$")


class PowerSchoolSim:
    """A PowerSchool-like SIS over a synthetic district (see module docstring)."""

    def __init__(
        self,
        district: District,
        *,
        client_id: str,
        client_secret: str,
        faults: Faults | None = None,
        v1_page_cap: int = 100,
        schema_page_cap: int = 1000,
        tables_without_txn: Sequence[str] = (),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.district = district
        self.state = SimState(district)
        self.faults = faults or Faults()
        self.v1_page_cap = v1_page_cap
        self.schema_page_cap = schema_page_cap
        # Tables without transaction_date, by kind; ``tables_without_txn`` takes kinds or table names.
        extra = {BY_TABLE[t].kind if t in BY_TABLE else t for t in tables_without_txn}
        self._no_txn = {k for k, t in TABLES.items() if not t.has_txn} | extra
        self._credentials = (client_id, client_secret)
        self._tokens: dict[str, float] = {}  # token -> expiry (monotonic seconds)
        self._token_uses: dict[str, int] = {}
        self._lock = threading.Lock()
        self._sleep = sleep
        self.requests = 0
        self.writes = 0
        self.tokens_issued = 0
        self.unauthorized = 0

    # --- entry points --------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """An ``httpx.MockTransport`` handler: the same behaviour without a socket."""
        out = self.respond(request.method, request.url.path, dict(request.url.params), request.headers,
                           request.read())  # fmt: skip
        if out.delay:
            self._sleep(out.delay)
        if out.drop:
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")
        return httpx.Response(out.status, headers=out.headers, content=out.body)

    def respond(
        self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str], body: bytes
    ) -> SimResponse:
        with self._lock:
            self.requests += 1
            method = method.upper()
            if method == "POST" and _TOKEN.match(path):
                return self._token(headers, body)
            is_query = method == "POST" and _QUERY.match(path)
            if method not in ("GET", "HEAD") and not is_query:
                # A write attempt: counted so tests can prove a sync made none.
                self.writes += 1
                return _message(405, "method not allowed")
            if self.faults.revoked or not self._authorized(headers):
                self.unauthorized += 1
                return _message(401, "invalid or expired access token")
            fault = self._fault()
            if fault is not None:
                return fault
        try:
            out = self._route(path, query)
        except BadQuery:
            out = _message(400, "Invalid query")
        out.delay = self.faults.delay
        return out

    # --- auth and faults -------------------------------------------------------------------

    def _token(self, headers: Mapping[str, str], body: bytes) -> SimResponse:
        scheme, _, encoded = headers.get("authorization", "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user = password = ""
        if scheme.lower() != "basic" or (user, password) != self._credentials:
            return _json(401, {"error": "invalid_client"})
        if b"grant_type=client_credentials" not in body:
            return _json(400, {"error": "unsupported_grant_type"})
        token = secrets.token_hex(16)
        self._tokens[token] = time.monotonic() + self.faults.expires_in
        self.tokens_issued += 1
        return _json(
            200, {"access_token": token, "token_type": "Bearer", "expires_in": str(self.faults.expires_in)}
        )

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        expiry = self._tokens.get(token) if scheme.lower() == "bearer" else None
        if expiry is None or time.monotonic() >= expiry:
            return False
        limit = self.faults.token_max_requests
        uses = self._token_uses[token] = self._token_uses.get(token, 0) + 1
        if limit is not None and uses > limit:
            del self._tokens[token]
            return False
        return True

    def _fault(self) -> SimResponse | None:
        f = self.faults
        if f.expire_tokens_after is not None:
            if f.expire_tokens_after <= 0:
                self._tokens.clear()
                f.expire_tokens_after = None
                self.unauthorized += 1
                return _message(401, "invalid or expired access token")
            f.expire_tokens_after -= 1
        if f.drop_next > 0:
            f.drop_next -= 1
            return SimResponse(
                200, orjson.dumps({"record": []}), {"content-type": "application/json"}, drop=True
            )
        if f.rate_limit_next > 0:
            f.rate_limit_next -= 1
            return (
                _message(429, "rate limited")
                if not f.retry_after
                else _json(429, {"message": "rate limited"}, **{"retry-after": f.retry_after})
            )
        if f.server_errors_next > 0:
            f.server_errors_next -= 1
            return _message(f.server_error_status, "server error")
        return None

    # --- resources ---------------------------------------------------------------------------

    def _route(self, path: str, query: Mapping[str, str]) -> SimResponse:
        if path == "/ws/v1/metadata":
            return _json(200, {"metadata": {
                "powerschool_version": "sim-1",
                "school_max_page_size": str(self.v1_page_cap),
                "student_max_page_size": str(self.v1_page_cap),
                "section_max_page_size": str(self.v1_page_cap),
                "schema_table_query_max_page_size": str(self.schema_page_cap),
            }})  # fmt: skip
        if path in ("/ws/v1/district/school", "/ws/v1/district/school/count"):
            return self._v1("school", None, query, path.endswith("/count"))
        m = _SCHOOL_RES.match(path)
        if m:
            return self._v1(m.group(2), m.group(1), query, bool(m.group(3)))
        m = _TABLE.match(path) or _QUERY.match(path)
        if m:
            table = BY_TABLE.get(m.group(1))
            if table is None or (table.api == "query") != path.startswith("/ws/schema/query/"):
                return _message(404, "not found")
            return self._schema(table, query, bool(m.group(2)))
        return _message(404, "not found")

    def _paging(self, query: Mapping[str, str], cap: int) -> tuple[int, int]:
        try:
            page = max(1, int(query.get("page", "1")))
            size = int(query.get("pagesize", str(cap)))
        except ValueError:
            raise BadQuery("page") from None
        size = cap if size <= 0 else min(size, cap)
        return (page - 1) * size, size

    def _count(self, kind: str, view: Sequence[int]) -> int:
        return len(view) + self.faults.count_skew.get(kind, 0)

    def _v1(self, kind: str, school_id: str | None, query: Mapping[str, str], count: bool) -> SimResponse:
        where = None if school_id is None else (lambda rec: rec.school_id == school_id)
        view = self.state.view(kind, where=where, key=("school", school_id))
        if count:
            return _json(200, {"resource": {"count": self._count(kind, view)}})
        start, size = self._paging(query, self.v1_page_cap)
        items = [wire.to_wire(rec) for rec, _ in self.state.page(kind, view, start, start + size)]
        if kind == "student":
            wanted = {e.strip() for e in query.get("expansions", "").split(",")}
            for item in items:  # expansions not asked for are not sent
                for name in ("demographics", "school_enrollment", "schedule_setup", "contact_info"):
                    if name not in wanted:
                        item.pop(name, None)
        plural = f"{kind}s"
        if not items:
            return _json(200, {plural: ""})
        # One element comes back as an object, not a one-element list.
        block: dict[str, Any] = {
            "@expansions": query.get("expansions", ""),
            kind: items[0] if len(items) == 1 else items,
        }
        return _json(200, {plural: block})

    def _schema(self, table: Table, query: Mapping[str, str], count: bool) -> SimResponse:
        kind = table.kind
        known = COLUMNS[kind] | ({"transaction_date"} if kind not in self._no_txn else set())
        clauses = parse_q(query.get("q"))
        projection = [p for p in query.get("projection", "*").split(",") if p and p != "*"]
        for name in [c[0] for c in clauses] + projection:
            if name not in known:
                return _message(400, f"Invalid field {name}")
        view = self.state.view(kind, clauses)
        if count:
            return _json(200, {"count": self._count(kind, view)})
        start, size = self._paging(query, self.schema_page_cap)
        with_txn = kind not in self._no_txn
        # Columns to strip from each row; usually none or one, so dropping beats rebuilding.
        drop = tuple(known - set(projection)) if projection else ()
        records = []
        for rec, txn in self.state.page(kind, view, start, start + size):
            cols = self.state.columns(rec, txn)
            if not with_txn:
                del cols["transaction_date"]
            for name in drop:
                cols.pop(name, None)
            records.append({"id": rec.source_id, "name": table.table, "tables": {table.table: cols}})
        return _json(200, {"name": table.table, "record": records, "@extensions": ""})
