"""The PowerSchool simulator's request handling, independent of any web framework.

It answers as a PowerSchool server does (the shapes the test fixtures cite): OAuth client
credentials; ``/ws/v1/metadata`` with integer page caps and the district's zone; the
``/ws/v1`` school, student and section lists (a one-element list sent as an object, an
empty one as ``""``); ``/ws/schema/table/{table}`` with ``projection=``, ``q=``, paging,
``/count``, ``/metadata?expansions=access`` and ``/{id}``; and the named queries of the
installed plugin (``POST /ws/schema/query/{name}``, flattened rows). Fields the plugin
does not grant answer ``403`` (tables) or ``Validation Failed`` (queries); columns a table
does not have answer ``400``; a page size above the cap answers ``400``.

``PowerSchoolSim.respond`` takes a method, path, query, headers and body and returns a
:class:`SimResponse`; :mod:`simulators.powerschool.server` serves it over HTTP, and tests
may call it through ``httpx.MockTransport(sim.handle)``. Fault knobs live in
:class:`Faults`; counters (``requests``, ``writes``, ``tokens_issued``) prove what a
client did; ``expected(kind)`` is what a correct reader of this server gets.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
import orjson

from connectors.records import Record
from simulators.district.synthetic import SyntheticDistrict
from simulators.powerschool import model as m
from simulators.powerschool import reference, v1
from simulators.powerschool.faults import Faults
from simulators.powerschool.grants import ALL, Grants, read_plugin
from simulators.powerschool.query import BadQuery, Clause, matches, parse_q
from simulators.powerschool.responses import SimResponse
from simulators.powerschool.responses import json_response as _json
from simulators.powerschool.responses import message as _message
from simulators.powerschool.state import SimState
from simulators.powerschool.tables import GRADE_TABLES, QUERIES, TABLES, Table

_TOKEN = re.compile(r"^/oauth/access_token/?$")
_SCHOOL_RES = re.compile(r"^/ws/v1/school/([^/]+)/(student|section)(/count)?$")
_TABLE = re.compile(r"^/ws/schema/table/([^/]+)(?:/(count|metadata|[^/]+))?$")
_QUERY = re.compile(r"^/ws/schema/query/([^/]+)(/count)?$")
_CURSORS = ("transaction_date", "whenmodified")


class PowerSchoolSim:
    """A PowerSchool server over a synthetic district (see module docstring)."""

    def __init__(
        self,
        district: SyntheticDistrict,
        *,
        client_id: str,
        client_secret: str,
        faults: Faults | None = None,
        v1_page_cap: int = 100,
        schema_page_cap: int = 1000,
        tables_without_txn: Sequence[str] = (),
        plugin: bytes | None = None,
        custom_tables: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.district = district
        self.model = m.PowerSchoolModel(district)
        split = self.model.grade_split
        n_grades = district.count("grade")
        self.state = SimState(
            self.model,
            bounds=self._bounds(),
            subsets={
                "storedgrades": (0, split, lambda rec: rec.source_id.startswith("storedgrades:")),
                "pgfinalgrades": (split, n_grades, lambda rec: rec.source_id.startswith("pgfinalgrades:")),
            },
        )
        self.faults = faults or Faults()
        self.v1_page_cap = v1_page_cap
        self.schema_page_cap = schema_page_cap
        self.grants: Grants = ALL if plugin is None else read_plugin(plugin)
        # Tables lacking their cursor column (an older server): ``tables_without_txn`` names
        # tables, or the record kinds behind them.
        self._no_cursor = {
            t.name for t in TABLES.values() if t.name in tables_without_txn or t.kind in tables_without_txn
        }
        self._custom = custom_tables
        self._credentials = (client_id, client_secret)
        self._tokens: dict[str, float] = {}  # token -> expiry (monotonic seconds)
        self._token_uses: dict[str, int] = {}
        self._lock = threading.Lock()
        self._static: dict[str, list[dict[str, Any]]] = {}
        self._sleep = sleep
        self.requests = 0
        self.writes = 0
        self.tokens_issued = 0
        self.unauthorized = 0

    def _bounds(self) -> dict[tuple[str, str], tuple[str, Any]]:
        """What every base row of a table satisfies (the overlay checks its own rows)."""
        mo = self.model
        start, yearid = mo.year_start.isoformat(), mo.yearid
        epoch = dt.datetime.combine(mo.year_start, dt.time()) - dt.timedelta(days=7)  # SimState's base stamps
        exits = [s.exit_date or mo.year_end for s in self.district.roster.students]
        first_exit = min(exits).isoformat() if exits else start
        return {
            ("attendance", "att_date"): ("ge", start),
            ("storedgrades", "termid"): ("ge", str(yearid * 100)),
            ("pgfinalgrades", "startdate"): ("ge", start),
            ("log", "entry_date"): ("ge", start),
            ("section_meeting", "year_id"): ("eq", str(yearid)),
            ("sections", "termid"): ("ge", str(yearid * 100)),
            ("assignmentsection", "yearid"): ("eq", str(yearid)),
            ("assignmentscore", "whencreated"): ("ge", epoch.isoformat(sep=" ")),
            ("cc", "dateleft"): ("ge", first_exit),
            ("students", "exitdate"): ("ge", first_exit),
        }

    def expected(self, kind: str) -> list[Record]:
        """The records a correct reader of this server produces for ``kind``, overlay included."""
        view = self.state.view(kind, key="expected")
        return [self.model.stamped(rec, txn) for rec, txn in self.state.page(kind, view, 0, len(view))]

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
            out = self._route(method, path, query)
        except BadQuery as exc:
            out = _message(400, f"Invalid query: {exc}")
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

    # --- routing -------------------------------------------------------------------------------

    def _route(self, method: str, path: str, query: Mapping[str, str]) -> SimResponse:
        if path == "/ws/v1/metadata":
            return _json(200, {"metadata": {
                "powerschool_version": "24.7.0.0", "district_timezone": self.model.timezone,
                "school_max_page_size": self.v1_page_cap, "student_max_page_size": self.v1_page_cap,
                "section_max_page_size": self.v1_page_cap, "staff_max_page_size": self.v1_page_cap,
                "course_max_page_size": self.v1_page_cap, "term_max_page_size": self.v1_page_cap,
                "section_enrollment_max_page_size": self.v1_page_cap,
                "schema_table_query_max_page_size": self.schema_page_cap,
            }})  # fmt: skip
        if path in ("/ws/v1/district/school", "/ws/v1/district/school/count"):
            return v1.schools(self, query, path.endswith("/count"))
        m_school = _SCHOOL_RES.match(path)
        if m_school:
            return v1.school_list(self, m_school.group(2), m_school.group(1), query, bool(m_school.group(3)))
        if method == "POST":
            m_query = _QUERY.match(path)
            if m_query:
                return self._query(m_query.group(1), query, bool(m_query.group(2)))
            return _message(404, "not found")
        m_table = _TABLE.match(path)
        if m_table:
            return self._table(m_table.group(1).lower(), m_table.group(2), query)
        return _message(404, "not found")

    def page_bounds(
        self, query: Mapping[str, str], cap: int, *, clamp: bool
    ) -> tuple[int, int] | SimResponse:
        try:
            page = max(1, int(query.get("page", "1")))
            size = int(query.get("pagesize", str(cap)))
        except ValueError:
            raise BadQuery("page and pagesize must be numbers") from None
        if size > cap and not clamp:
            return _message(400, "pagesize exceeds maximum page size")
        size = cap if size <= 0 else min(size, cap)
        return (page - 1) * size, size

    def skew(self, *names: str) -> int:
        return sum(self.faults.count_skew.get(name, 0) for name in set(names))

    # --- /ws/schema/table -----------------------------------------------------------------------

    def _table_of(self, name: str) -> Table | None:
        table = TABLES.get(name)
        if table is None or (name.startswith("u_") and not self._custom):
            return None
        return table

    def _columns(self, table: Table) -> frozenset[str]:
        if table.name in self._no_cursor:
            return table.columns - set(_CURSORS)
        return table.columns

    def static_rows(self, name: str) -> list[dict[str, Any]]:
        if name not in self._static:
            self._static[name] = reference.rows(self.model, name)
        return self._static[name]

    def _refuse(self, table: Table, names: Sequence[str]) -> SimResponse | None:
        """400 for a column the table lacks, 403 for one the plugin does not grant."""
        columns = self._columns(table)
        unknown = [c for c in names if c not in columns]
        if unknown:
            return _message(400, f"not valid column for table: {table.name} - {unknown[0]}")
        refused = sorted({c for c in names if not self.grants.allows(table.name, c)})
        if refused:
            return _json(403, {"message": "Insufficient permission: at least one column lacks permission",
                               "errors": [{"resource": table.name, "field": f"{table.name}.{c}",
                                           "code": "No access to the field"} for c in refused]})  # fmt: skip
        return None

    def _table(self, name: str, tail: str | None, query: Mapping[str, str]) -> SimResponse:
        table = self._table_of(name)
        if table is None:
            return _message(404, "Database table specified by the URI not found")
        if tail == "metadata":
            return _json(200, {
                "name": name.upper(), "comment": f"{name} table", "primaryKey": table.primary_key.upper(),
                "schemaType": "core", "coreTable": True,
                "columns": [{"name": c.upper(), "access": "ViewOnly" if self.grants.allows(name, c) else "NoAccess"}
                            for c in sorted(self._columns(table))],
            })  # fmt: skip
        clauses = parse_q(query.get("q"))
        projection = (query.get("projection") or "").strip().lower()
        if projection in ("", "*", f"{name}.*"):
            cols = sorted(c for c in self._columns(table) if self.grants.allows(name, c))
            named = [c[0] for c in clauses]
        else:
            cols = [c.strip().split(".")[-1] for c in projection.split(",") if c.strip()]
            named = [c[0] for c in clauses] + cols
        refused = self._refuse(table, named)
        if refused is not None:
            return refused
        if tail not in (None, "count"):  # /ws/schema/table/{table}/{id}
            found = next((r for r in self._rows(table, clauses) if r.get(table.primary_key) == tail), None)
            if found is None:
                return _message(404, "record not found")
            return _json(200, {"tables": {name: {c: found[c] for c in cols if c in found}}})
        if tail == "count":
            return _json(200, {"count": self._count(table, clauses)})
        paged = self.page_bounds(query, self.schema_page_cap, clamp=False)
        if isinstance(paged, SimResponse):
            return paged
        start, size = paged
        records = []
        for row in self._rows(table, clauses, start, start + size):
            key = row.get(table.primary_key, "0")
            records.append({"id": int(key) if str(key).lstrip("-").isdigit() else key, "name": name.upper(),
                            "tables": {name: {c: row[c] for c in cols if c in row}}})  # fmt: skip
        return _json(200, {"name": name.upper(), "record": records, "@extensions": ""})

    def _view(self, table: Table, clauses: Sequence[Clause]) -> Sequence[int]:
        assert table.kind is not None
        return self.state.view(table.kind, clauses, key=table.name, table=table.name)

    def _count(self, table: Table, clauses: Sequence[Clause]) -> int:
        if table.kind is None:
            return sum(1 for r in self.static_rows(table.name) if matches(r, clauses)) + self.skew(table.name)
        return len(self._view(table, clauses)) + self.skew(table.kind, table.name)

    def _rows(
        self, table: Table, clauses: Sequence[Clause], start: int = 0, stop: int | None = None
    ) -> list[dict[str, Any]]:
        if table.kind is None:
            rows = [r for r in self.static_rows(table.name) if matches(r, clauses)]
            return rows[start:stop]
        view = self._view(table, clauses)
        out = []
        strip = table.name in self._no_cursor
        for rec, txn in self.state.page(table.kind, view, start, len(view) if stop is None else stop):
            row = self.state.columns(table.name, rec, txn)
            if strip:
                for c in _CURSORS:
                    row.pop(c, None)
            out.append(row)
        return out

    # --- /ws/schema/query --------------------------------------------------------------------------

    def _query(self, name: str, query: Mapping[str, str], count: bool) -> SimResponse:
        q = QUERIES.get(name)
        if q is None or not self.grants.installed(name):
            return _message(404, f"named query {name} not found")
        refused = sorted(f"{t}.{c}" for t, c in q.touches if not self.grants.allows(t, c))
        if refused:
            return _json(400, {"message": "Validation Failed",
                               "errors": [{"resource": name, "field": f, "code": "No access to the field"}
                                          for f in refused]})  # fmt: skip
        where = (lambda rec: rec.email is not None) if q.kind == "student" else None
        view = self.state.view(q.kind, where=where, key=name, table=name)
        if count:
            return _json(200, {"count": len(view) + self.skew(q.kind, name)})
        try:
            size = int(query.get("pagesize", "100"))
            page = max(1, int(query.get("page", "1")))
        except ValueError:
            raise BadQuery("page and pagesize must be numbers") from None
        if size > self.schema_page_cap:
            return _message(400, "pagesize exceeds maximum page size")
        start, stop = (0, len(view)) if size <= 0 else ((page - 1) * size, page * size)  # 0: stream it all
        records = []
        for rec, txn in self.state.page(q.kind, view, start, stop):
            row = self.model.row(name, rec, txn)
            records.append({"_name": q.core_table.upper(), "_id": int(rec.source_id), **row})
        body: dict[str, Any] = {"name": q.core_table.upper(), "@extensions": ""}
        if records:  # an empty page has no record key at all
            body["record"] = records
        return _json(200, body)


__all__ = ["GRADE_TABLES", "PowerSchoolSim", "SimResponse"]
