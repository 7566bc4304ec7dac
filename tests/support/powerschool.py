"""A PowerSchool server made of the real-shape fixtures in ``tests/support/data/powerschool``.

Each fixture is synthetic data in the shape its ``_source`` cites. This handler serves them
as a server would: ``/count`` and pages, ``projection=`` (only the columns asked for come
back), ``q=`` filters, flattened PowerQuery rows. Tables without a fixture are empty.

The mini district it makes (from the fixtures' README): Ada (DCID 507, ID 11), Bo (DCID
9913, ID 507 — Ada's DCID), Cy (DCID 508, ID 12, a historical student), Dee (DCID 510,
ID 14, pre-registered); schools DCID 5 / number 110 and DCID 6 / number 120; sections DCID
4401 / ID 3301 and DCID 4402 / ID 3302.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

FIXTURES = Path(__file__).parent / "data" / "powerschool"

TABLE_FIXTURES = {
    "terms": "schema_terms",
    "students": "schema_students",
    "sections": "schema_sections",
    "courses": "schema_courses",
    "cc": "schema_cc",
    "section_meeting": "schema_section_meeting",
    "cycle_day": "schema_cycle_day",
    "calendar_day": "schema_calendar_day",
    "bell_schedule_items": "schema_bell_schedule_items",
    "period": "schema_period",
    "attendance": "schema_attendance",
    "attendance_code": "schema_attendance_code",
    "storedgrades": "schema_storedgrades",
    "pgfinalgrades": "schema_pgfinalgrades",
    "assignmentsection": "schema_assignmentsection",
    "assignmentscore": "schema_assignmentscore",
    "log": "schema_log",
    "gen": "schema_gen_logtypes",
}
QUERY_FIXTURES = {
    "com.portico.sis.contacts.persons": "powerquery_contacts_flattened",
    "com.portico.sis.contacts.student_contacts": "powerquery_contacts_flattened",
}
# What a district with these fixtures writes in the connector's options.
OPTIONS: dict[str, Any] = {
    "attendance_codes": {"T": "late"},
    "log_types": {"Discipline": "behaviour", "Positive Recognition": "achievement"},
}


def load(name: str) -> dict[str, Any]:
    """A fixture without its ``_source``/``_note`` keys."""
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    return {k: v for k, v in data.items() if not k.startswith("_")}


def sources() -> dict[str, str]:
    """Each fixture file and the public source its shape comes from."""
    return {p.name: json.loads(p.read_text())["_source"] for p in sorted(FIXTURES.glob("*.json"))}


def _value(v: Any) -> tuple[int, Any]:
    s = str(v).strip()
    return (0, int(s)) if s.lstrip("-").isdigit() else (1, s)


def _matches(row: dict[str, Any], q: str | None) -> bool:
    for clause in (q or "").split(";"):
        if not clause:
            continue
        for op in ("=ge=", "=le=", "=gt=", "=lt=", "!=", "=="):
            if op in clause:
                col, want = clause.split(op, 1)
                have = row.get(col.lower())
                if have is None:
                    return False
                a, b = _value(have), _value(want)
                if a[0] != b[0]:
                    a, b = (1, str(have)), (1, want)
                ok = {
                    "=ge=": a >= b,
                    "=le=": a <= b,
                    "=gt=": a > b,
                    "=lt=": a < b,
                    "!=": a != b,
                    "==": a == b,
                }[op]
                if not ok:
                    return False
                break
    return True


class FixtureServer:
    """An ``httpx.MockTransport`` handler over the fixtures; ``tables`` may be edited by a test."""

    def __init__(self) -> None:
        self.tables: dict[str, list[dict[str, Any]]] = {
            table: [r["tables"][table] for r in load(name)["record"]]
            for table, name in TABLE_FIXTURES.items()
        }
        self.queries: dict[str, list[dict[str, Any]]] = {
            name: load(fixture)["record"] for name, fixture in QUERY_FIXTURES.items()
        }
        self.schools = load("v1_district_school_list")
        self.metadata = load("metadata")
        self.requests: list[httpx.Request] = []
        self.refuse: Callable[[httpx.Request], httpx.Response | None] = lambda request: None

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path, params = request.url.path, request.url.params
        if path.rstrip("/") == "/oauth/access_token":
            return httpx.Response(200, json=load("token"))
        refused = self.refuse(request)
        if refused is not None:
            return refused
        if path == "/ws/v1/metadata":
            return httpx.Response(200, json=self.metadata)
        if path == "/ws/v1/district/school/count":
            items = self.schools["schools"]["school"]
            return httpx.Response(
                200, json={"resource": {"count": len(items) if isinstance(items, list) else 1}}
            )
        if path == "/ws/v1/district/school":
            return httpx.Response(200, json=self.schools)
        if path.startswith("/ws/schema/query/"):
            name = path.removeprefix("/ws/schema/query/").removesuffix("/count")
            rows = self.queries.get(name, [])
            if path.endswith("/count"):
                return httpx.Response(200, json={"count": len(rows)})
            return httpx.Response(200, json=self._page(rows, params, {"name": "Q", "@extensions": ""}, None))
        if path.startswith("/ws/schema/table/"):
            table = path.removeprefix("/ws/schema/table/").removesuffix("/count")
            rows = [r for r in self.tables.get(table, []) if _matches(r, params.get("q"))]
            if path.endswith("/count"):
                return httpx.Response(200, json={"count": len(rows)})
            projection = [c for c in params.get("projection", "").split(",") if c]
            wrapped = [
                {"id": r.get("dcid") or r.get("id") or 0, "name": table.upper(),
                 "tables": {table: {k: v for k, v in r.items() if not projection or k in projection}}}
                for r in rows
            ]  # fmt: skip
            return httpx.Response(
                200, json=self._page(wrapped, params, {"name": table.upper(), "@extensions": ""}, 1)
            )
        return httpx.Response(404, json={"message": "not found"})

    @staticmethod
    def _page(rows: list[Any], params: Any, envelope: dict[str, Any], _: int | None) -> dict[str, Any]:
        page, size = int(params.get("page", "1")), int(params.get("pagesize", "100"))
        chunk = copy.deepcopy(rows[(page - 1) * size : page * size])
        return {**envelope, "record": chunk} if chunk else dict(envelope)
