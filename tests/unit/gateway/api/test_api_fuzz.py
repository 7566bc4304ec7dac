"""A property test over the published contract: every operation of ``/openapi.json``, with
hostile values in every path, query and body parameter, answers a status it documents,
never a 5xx, and every error is ``application/problem+json``.

Bounded for the suite (``PORTICO_FUZZ_EXAMPLES``, 600 by default, shared out over the
operations: a few seconds per engine); ``scripts/fuzz_api`` runs it longer and prints
what it saw.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.access import sessions
from tests.support.world import World, build_world, cheap_hashing

EXAMPLES = int(os.environ.get("PORTICO_FUZZ_EXAMPLES", "600"))
REPORT = os.environ.get("PORTICO_FUZZ_REPORT")

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
ascii_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
# The calendar's ends first: date arithmetic near them is what overflows.
edge_dates = st.one_of(
    st.sampled_from(["0001-01-01", "9999-12-31"]),
    st.sampled_from(["1900-01-01", "2199-12-31", "2026-11-24", "2026-02-29", "2026-W48-2", "20261124",
                     "2026-11-24T10:00:00+00:00", "0001-01-02", "9999-12-25"]),
    st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)).map(dt.date.isoformat),
)  # fmt: skip
numbers = st.one_of(
    st.integers(-(10**30), 10**30).map(str), st.sampled_from(["1", "500", "501", "0", "1e3", " 7", "٣"])
)
cursors = st.one_of(
    st.lists(st.one_of(text, edge_dates, numbers), min_size=1, max_size=4).map(
        lambda parts: base64.urlsafe_b64encode("\x1f".join(parts).encode()).decode().rstrip("=")
    ),
    ascii_text,
)
query_value = st.one_of(
    text, ascii_text, edge_dates, numbers, cursors, st.sampled_from(["json", "csv", "xml"])
)
# Each parameter half the time gets values of its own kind, half the time anything.
BY_NAME = {"from": edge_dates, "to": edge_dates, "cursor": cursors, "limit": numbers}
json_value = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        text,
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
    max_leaves=12,
)


def operations(s: World) -> list[tuple[str, str, dict[str, Any]]]:
    doc = s.client.get("/openapi.json").json()
    return [
        (method, path, op)
        for path, item in sorted(doc["paths"].items())
        for method, op in sorted(item.items())
    ]


def body_strategy(op: dict[str, Any], schemas: dict[str, Any]) -> st.SearchStrategy[Any]:
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return st.none()
    ref = content["schema"].get("$ref", "")
    props = schemas.get(ref.rsplit("/", 1)[-1], {}).get("properties", {})
    shaped = st.fixed_dictionaries({}, optional={k: st.one_of(text, ascii_text, json_value) for k in props})
    return st.one_of(shaped, json_value, st.binary(max_size=64).map(lambda b: ("raw", b)))


@pytest.fixture
def s(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    cheap_hashing(monkeypatch)
    served = build_world(tmp_path, db_url, mail={"backend": "outbox", "outbox_dir": str(tmp_path / "outbox")})
    yield served
    served.close()


def test_no_input_gets_a_5xx_or_an_undocumented_status(s: World) -> None:
    doc = s.client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    ops = operations(s)
    guardian = s.ensure_account("guardian", s.district.cases.two_child_contact)
    contact = s.district.cases.two_child_contact
    mine = sorted(
        {s.ref("student", ln.student_id) for ln in s.district.iter("link") if ln.contact_id == contact}
    )
    others = [s.ref("student", s.district.cases.student_login), "AAAAAAAAAAAAAAAAAAAAAA"]
    # Dot segments are left out: the client resolves them, so they would test another path.
    dots = {".", ".."}
    ids = st.one_of(st.sampled_from(mine + others), text.filter(bool), ascii_text.filter(bool)).filter(
        lambda v: v not in dots
    )
    seen: Counter[tuple[str, str, int]] = Counter()
    loop = asyncio.new_event_loop()
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=s.client.app), base_url="http://portico.test"
    )

    def token() -> str:
        with s.cache.engine.begin() as conn:  # a fresh session each time: one example may sign out
            return sessions.create(conn, guardian.id, s.cache.config.access)[0]

    # Every operation gets its share of the examples (at least 10).
    per_operation = max(10, EXAMPLES // len(ops))

    @settings(
        max_examples=per_operation,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(data=st.data())
    def probe(operation: tuple[str, str, dict[str, Any]], data: st.DataObject) -> None:
        method, path, op = operation
        url = path
        for p in op.get("parameters", []):
            if p["in"] == "path":
                url = url.replace("{" + p["name"] + "}", quote(data.draw(ids, label=p["name"]), safe=""))
        query = {
            p["name"]: data.draw(st.one_of(BY_NAME.get(p["name"], query_value), query_value), label=p["name"])
            for p in op.get("parameters", [])
            if p["in"] == "query" and data.draw(st.booleans(), label="send " + p["name"])
        }
        auth = data.draw(st.sampled_from(["valid", "valid", "valid", "none", "junk"]), label="auth")
        headers = {}
        if auth == "valid":
            headers["Authorization"] = "Bearer " + token()
        elif auth == "junk":
            headers["Authorization"] = data.draw(ascii_text, label="authorization")
        kwargs: dict[str, Any] = {"params": query, "headers": headers}
        body = data.draw(body_strategy(op, schemas), label="body")
        if isinstance(body, tuple):
            kwargs["content"] = body[1]
            headers["content-type"] = "application/json"
        elif body is not None or "requestBody" in op:
            kwargs["json"] = body
        r = loop.run_until_complete(client.request(method.upper(), url, **kwargs))
        seen[(method, path, r.status_code)] += 1
        documented = set(op["responses"])
        assert r.status_code < 500, (method, url, query, r.status_code, r.text)
        assert str(r.status_code) in documented, (
            method,
            url,
            query,
            r.status_code,
            r.text,
            sorted(documented),
        )
        if r.status_code >= 400:
            assert r.headers["content-type"] == "application/problem+json", (method, url, r.headers)

    try:
        for operation in ops:
            probe(operation)
    finally:
        loop.run_until_complete(client.aclose())
        loop.close()
        summary = summarise(seen)
        print(summary)
        if REPORT:
            with open(REPORT, "a", encoding="utf-8") as fh:
                fh.write(f"{s.cache.engine.dialect.name}\n{summary}\n")
    assert {(m, p) for m, p, _ in seen} == {(m, p) for m, p, _ in ops}


def summarise(seen: Counter[tuple[str, str, int]]) -> str:
    statuses: Counter[int] = Counter()
    for (_, _, status), n in seen.items():
        statuses[status] += n
    total = sum(statuses.values())
    by_status = ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))
    return (
        f"fuzz: {total} requests over {len({(m, p) for m, p, _ in seen})} operations; by status {by_status}"
    )
