"""The parent data routes on PostgreSQL, their reads awaited on the serving loop (cache.loopreads).

The app's lifespan starts the loop's connections; a request that reaches work needing a
synchronous connection (a session that ended, a denied read to count, a data key from a
keystore the loop does not read) is handed over to a worker thread and served there from the
start, having written nothing. Each test compares with the same app without its lifespan,
where every data request runs on a worker thread as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import orjson
import psycopg
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError
from sqlalchemy import text

from cache import loopreads
from cache.keys.crypto import KekRing, new_kek_line
from cache.loopreads import LoopReads, connect_arguments
from cache.read import queries
from cache.read.reader import Reader
from cache.types import expanded
from config.settings import PorticoConfig
from gateway.api.app import create_app
from gateway.ops.metrics import GuardCounters, make_registry
from gateway.privacy import audit
from tests.support.config import key_file, raw_config
from tests.support.offload import audit_events, healthz_while_waiting
from tests.support.offload import pg_world as offload_world
from tests.support.pg import own_schema
from tests.support.world import World, build_world, cheap_hashing

pg_world = pytest.fixture(offload_world)

BASE = "http://portico.test"


def dashboard(ref: str) -> list[str]:
    return [
        f"/v1/students/{ref}/attendance",
        f"/v1/students/{ref}/attendance?from=2026-09-01&to=2026-11-30&limit=5",
        f"/v1/students/{ref}/attendance/summary",
        f"/v1/students/{ref}/timetable",
        f"/v1/students/{ref}/timetable?from=2026-11-02&to=2026-11-20&limit=7",
        f"/v1/students/{ref}/grades",
        f"/v1/students/{ref}/grades?limit=2",
        f"/v1/students/{ref}/behaviour?limit=10",
        f"/v1/students/{ref}/behaviour?from=2026-08-01&to=2026-11-23&limit=2",
    ]


Answer = tuple[int, list[tuple[str, str]], bytes]


async def _get_all(app: FastAPI, paths: list[str], headers: dict[str, str]) -> list[Answer]:
    # A 500 is an answer here, as a server sends it (Starlette re-raises for the server's log).
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
        out = []
        for path in paths:
            r = await c.get(path, headers=headers)
            out.append((r.status_code, list(r.headers.items()), r.content))
        return out


def served(app: FastAPI, on_loop: bool, work: Callable[[], Awaitable[Any]]) -> Any:
    """``work`` with the app's lifespan (its loop's connections) or without (worker threads)."""

    async def main() -> Any:
        if not on_loop:
            return await work()
        async with app.router.lifespan_context(app):
            return await work()

    return asyncio.run(main())


def reads_of(app: FastAPI) -> LoopReads:
    reads = app.state.portico.loop_reads
    assert reads is not None and reads.here()
    return reads  # type: ignore[no-any-return]


def _me(w: World) -> tuple[dict[str, str], str]:
    sid = w.district.cases.student_login
    return w.headers(w.ensure_account("student", sid).id), w.ref("student", sid)


NOBODY = "AAAAAAAAAAAAAAAAAAAAAA"  # a ref no record has


def _next_cursor(app: FastAPI, path: str, headers: dict[str, str]) -> str:
    """The cursor of the page after ``path``'s (read on a worker thread)."""
    ((status, _, body),) = served(app, False, lambda: _get_all(app, [path], headers))
    cursor = orjson.loads(body)["meta"]["next_cursor"]
    assert status == 200 and cursor, (path, body)
    return quote(cursor)


def student_routes(w: World, app: FastAPI, headers: dict[str, str]) -> list[tuple[str, int, int]]:
    """The student's own profile, list, reports, assignments and notices, with and without
    parameters, each with the audit events it records: a report that is the student's, one
    of another student's and one that is nobody's (the uniform 404, after the check)."""
    sid = w.district.cases.student_login
    ref = w.ref("student", sid)
    mine = next(r for r in w.district.iter("report") if r.student_id == sid)
    theirs = next(r for r in w.district.iter("report") if r.student_id != sid)
    section = next(e.section_id for e in w.district.iter("enrollment") if e.student_id == sid)
    base = f"/v1/students/{ref}"
    term = "from=2026-09-01&to=2026-11-20"
    reports = f"{base}/reports?limit=1"
    assignments = f"{base}/assignments?{term}&limit=3"
    notices = "/v1/notices?limit=2"
    return [
        ("/v1/students", 200, 1),
        (base, 200, 1),
        (f"{base}/reports", 200, 1),
        (reports, 200, 1),
        (f"{reports}&cursor={_next_cursor(app, reports, headers)}", 200, 1),
        (f"{base}/reports/{w.ref('report', mine.source_id)}", 200, 1),
        (f"{base}/reports/{w.ref('report', theirs.source_id)}", 404, 1),
        (f"{base}/reports/{NOBODY}", 404, 1),
        (f"{base}/reports/not-a-ref", 404, 1),
        (f"{base}/assignments", 200, 1),
        (assignments, 200, 1),
        (f"{assignments}&cursor={_next_cursor(app, assignments, headers)}", 200, 1),
        (f"{base}/assignments?{term}&class={w.ref('section', section)}", 200, 1),
        (f"{base}/assignments?class={NOBODY}", 200, 1),
        ("/v1/notices", 200, 0),  # notices are the schools', not the student's: nothing disclosed
        (notices, 200, 0),
        (f"{notices}&cursor={_next_cursor(app, notices, headers)}", 200, 0),
        ("/v1/notices?from=2026-09-01&limit=500", 200, 0),
    ]


def guardian_routes(w: World) -> tuple[dict[str, str], list[tuple[str, int, int]]]:
    """A parent of two children: the list, each child's profile and reports, and the
    notices of both children's schools, year groups and classes."""
    contact = w.district.cases.two_child_contact
    headers = w.headers(w.ensure_account("guardian", contact).id)
    kids = sorted(
        {w.ref("student", ln.student_id) for ln in w.district.iter("link") if ln.contact_id == contact}
    )
    assert len(kids) == 2
    paths = [("/v1/students", 200, 2), ("/v1/notices", 200, 0), ("/v1/notices?limit=3", 200, 0)]
    for kid in kids:
        paths += [(f"/v1/students/{kid}", 200, 1), (f"/v1/students/{kid}/reports", 200, 1)]
        paths += [(f"/v1/students/{kid}/assignments?limit=5", 200, 1)]
    return headers, paths


@dataclass
class Compared:
    on_workers: list[Answer]
    on_loop: list[Answer]  # a warm loop's: every path read once on it before
    audited_on_workers: int
    audited_on_loop: int
    handed_over_warm: int  # requests of the warm pass handed over to a worker thread
    served_on_workers_warm: int  # requests of the warm pass served on a worker thread at all


def compare(w: World, app: FastAPI, paths: list[str], headers: dict[str, str]) -> Compared:
    """``paths`` on worker threads (the app without its lifespan), then twice on the loop:
    the first reads the snapshot's shared records (those requests may be handed over),
    the second is compared."""
    before = audit_events(w)
    on_workers = served(app, False, lambda: _get_all(app, paths, headers))
    audited_on_workers = audit_events(w) - before
    assert app.state.portico.loop_reads is None
    seen: dict[str, int] = {}

    workers = app.state.portico.workers
    on_worker = workers.run_direct  # where a data route's request goes to a worker thread

    async def counted(work: Callable[[], Any]) -> Any:
        seen["workers"] = seen.get("workers", 0) + 1
        return await on_worker(work)

    async def twice() -> list[Answer]:
        reads = reads_of(app)
        await _get_all(app, paths, headers)
        warm, before = reads.handed_over, audit_events(w)
        workers.run_direct = counted
        try:
            answers = await _get_all(app, paths, headers)
        finally:
            del workers.run_direct
        seen["audited"] = audit_events(w) - before
        seen["handed"] = reads.handed_over - warm
        return answers

    on_loop = served(app, True, twice)
    assert app.state.portico.loop_reads is None  # closed with the lifespan
    return Compared(
        on_workers, on_loop, audited_on_workers, seen["audited"], seen["handed"], seen.get("workers", 0)
    )


def test_dashboard_answers_on_the_loop_are_the_worker_threads_answers_and_need_no_other_connection(
    pg_world: World,
) -> None:
    """Every dashboard route, with and without parameters: the same status, headers and
    bytes as on a worker thread. Once the snapshot's shared records are known, no request
    is handed over: none touched a synchronous connection (any use raises), and each
    disclosure was audited once, before its answer."""
    w = pg_world
    headers, ref = _me(w)
    paths = dashboard(ref)
    app = create_app(w.config, w.cache, clock=w.clock)
    got = compare(w, app, paths, headers)
    assert [a[0] for a in got.on_loop] == [200] * len(paths)
    assert got.on_loop == got.on_workers
    assert got.handed_over_warm == 0, "a warm dashboard request was handed to a worker thread"
    assert got.served_on_workers_warm == 0
    assert got.audited_on_loop == got.audited_on_workers == len(paths)


@pytest.mark.parametrize("who", ["student", "guardian"])
def test_the_other_data_routes_answer_on_the_loop_as_on_worker_threads(pg_world: World, who: str) -> None:
    """The profile, the list, reports (the list, one, another student's, nobody's), assignments
    and notices, with and without parameters (paging, a class, a range): the same status,
    headers and bytes on the loop as on a worker thread; warm, none is handed over, and
    each disclosure is audited once, before its answer."""
    w = pg_world
    app = create_app(w.config, w.cache, clock=w.clock)
    if who == "student":
        headers, _ = _me(w)
        expected = student_routes(w, app, headers)
    else:
        headers, expected = guardian_routes(w)
    paths = [p for p, _, _ in expected]
    got = compare(w, app, paths, headers)
    assert [a[0] for a in got.on_loop] == [status for _, status, _ in expected]
    assert got.on_loop == got.on_workers
    assert got.handed_over_warm == 0, "a warm request was handed to a worker thread"
    assert got.served_on_workers_warm == 0, "a warm request was served on a worker thread"
    audited = sum(n for _, _, n in expected)
    assert got.audited_on_loop == got.audited_on_workers == audited
    if who == "student":
        # A report not the student's, nobody's, or no ref at all: the one uniform 404,
        # the same bytes as a student that does not exist.
        missing = served(app, False, lambda: _get_all(app, [f"/v1/students/{NOBODY}"], headers))[0][2]
        found = [a for p, a in zip(paths, got.on_loop, strict=True) if "/reports/" in p]
        assert [a[0] for a in found] == [200, 404, 404, 404]
        assert all(a[2] == missing for a in found[1:])
        assert orjson.loads(found[0][2])["data"]["id"] in paths[5]
        pages = [orjson.loads(a[2]).get("data") for a in got.on_loop]
        assert pages[3] and pages[4] and pages[3] != pages[4]  # the reports' second page
        assert pages[10] and pages[11] and pages[10] != pages[11]  # the assignments'
        assert pages[15] and pages[16] and pages[15] != pages[16]  # the notices'
        assert pages[13] == []  # a class the student is not in


def _handovers(app: FastAPI) -> dict[str, float]:
    """``portico_loop_handovers_total`` by reason, as ``/metrics`` serves it."""

    async def scrape() -> bytes:
        ((status, _, body),) = await _get_all(app, ["/metrics"], {})
        assert status == 200
        return body

    found = {}
    for family in text_string_to_metric_families(asyncio.run(scrape()).decode()):
        for sample in family.samples:
            if sample.name == "portico_loop_handovers_total":
                found[sample.labels["reason"]] = sample.value
    return found


def test_handovers_are_counted_on_metrics_by_reason(pg_world: World) -> None:
    """A request handed over for a denied read to count (``would_block``) and one whose loop
    connection the server ended (``connection_lost``), each counted once on /metrics."""
    w = pg_world
    headers, ref = _me(w)
    paths = [f"/v1/students/{ref}/reports"]
    guards = GuardCounters()
    app = create_app(w.config, w.cache, clock=w.clock, metrics_registry=make_registry(guards), guards=guards)
    assert _handovers(app) == {"would_block": 0, "family_token": 0, "connection_lost": 0}
    counted: list[dict[str, int]] = []  # the counts since the warm request, after each step
    handed: list[int] = []

    async def run() -> list[Answer]:
        reads = reads_of(app)
        answers = await _get_all(app, paths, headers)  # warm (itself handed over: a cold snapshot)
        start, warm = reads.handed_over, dict(guards.handed_over)

        def since() -> dict[str, int]:
            return {reason: n - warm[reason] for reason, n in guards.handed_over.items()}

        # A denied read (another student's id): counted on a worker thread's connection.
        ((status, _, _),) = await _get_all(app, [f"/v1/students/{NOBODY}/reports"], headers)
        assert status == 404
        counted.append(since())
        with w.cache.engine.begin() as conn:  # the loop's connections ended by the server
            for c in reads._idle:
                conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(c.get_server_pid())})")
        answers += await _get_all(app, paths, headers)
        counted.append(since())
        answers += await _get_all(app, paths, headers)  # on the loop again
        handed.append(reads.handed_over - start)
        return answers

    answers = served(app, True, run)
    assert all(a == answers[0] for a in answers) and answers[0][0] == 200
    assert counted == [
        {"would_block": 1, "family_token": 0, "connection_lost": 0},
        {"would_block": 1, "family_token": 0, "connection_lost": 1},
    ]
    assert handed == [2]  # LoopReads.handed_over counts them too
    scraped = _handovers(app)
    assert scraped == {reason: float(n) for reason, n in guards.handed_over.items()}
    assert scraped["connection_lost"] == 1 and scraped["would_block"] >= 1


def test_healthz_answers_while_a_read_on_the_loop_waits_for_postgresql(pg_world: World, pg_url: str) -> None:
    """The record table locked by another connection: a dashboard read awaited on the loop
    waits for it, and the loop goes on answering; the answer follows its audit commit."""
    w = pg_world
    headers, ref = _me(w)
    path = f"/v1/students/{ref}/attendance"
    app = create_app(w.config, w.cache, clock=w.clock)
    run = healthz_while_waiting(w, pg_url, app, path, headers, BASE, lifespan=True)
    assert run.health.status_code == 200
    assert run.waiting, "the data request finished before the lock was released"
    assert run.took < 2.0, f"/healthz took {run.took:.1f} s while a data read waited"
    assert run.answer.status_code == 200 and run.answer.json()["data"]
    assert run.audited == 1
    assert run.handed_over == 0, "the read was not awaited on the loop"


def test_a_session_to_touch_is_touched_on_the_loop_and_audited_once(pg_world: World) -> None:
    """A live session due its touch (once a minute) is written on the loop, awaited, as a
    worker thread writes it: not handed over (every active session once a minute was)."""
    w = pg_world
    headers, ref = _me(w)
    path = f"/v1/students/{ref}/grades"
    app = create_app(w.config, w.cache, clock=w.clock)
    seen: dict[str, Any] = {}

    async def run() -> Answer:
        reads = reads_of(app)
        await _get_all(app, dashboard(ref), headers)  # warm, and the session just touched
        with w.cache.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE session SET last_seen_at = last_seen_at - interval '5 minutes'")
            before = conn.exec_driver_sql("SELECT max(last_seen_at) FROM session").scalar()
        handed, audited = reads.handed_over, audit_events(w)
        (answer,) = await _get_all(app, [path], headers)
        seen["handed"] = reads.handed_over - handed
        seen["audited"] = audit_events(w) - audited
        with w.cache.engine.connect() as conn:
            seen["touched"] = conn.exec_driver_sql("SELECT max(last_seen_at) FROM session").scalar() > before
        return answer

    answer = served(app, True, run)
    assert answer[0] == 200
    assert seen == {"handed": 0, "audited": 1, "touched": True}


def test_a_denied_read_begun_on_the_loop_is_the_uniform_404_counted_once(pg_world: World) -> None:
    w = pg_world
    headers, _ = _me(w)
    sid = w.district.cases.student_login
    stranger = next(s for s in w.district.iter("student") if s.source_id != sid)
    path = f"/v1/students/{w.ref('student', stranger.source_id)}/attendance"
    app = create_app(w.config, w.cache, clock=w.clock)

    def denied() -> int:
        with w.cache.engine.connect() as conn:
            return int(conn.exec_driver_sql("SELECT coalesce(sum(count), 0) FROM audit_denied").scalar())

    on_workers = served(app, False, lambda: _get_all(app, [path], headers))
    before = denied()
    on_loop = served(app, True, lambda: _get_all(app, [path], headers))
    assert on_loop == on_workers and on_loop[0][0] == 404
    assert denied() == before + 1


def test_a_loop_connection_the_server_ended_is_replaced_and_its_request_handed_over(pg_world: World) -> None:
    """The loop's connections terminated by the server (a restart, an operator). Noticed
    while idle, a connection is replaced when next taken, the request served on the loop;
    met by a request's read, that request is answered by a worker thread, and the next one
    is on the loop again."""
    w = pg_world
    headers, ref = _me(w)
    paths = [f"/v1/students/{ref}/attendance"]
    app = create_app(w.config, w.cache, clock=w.clock)
    handed: list[int] = []

    def terminate(reads: LoopReads) -> None:
        with w.cache.engine.begin() as conn:
            for c in reads._idle:
                conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(c.get_server_pid())})")

    async def run() -> list[Answer]:
        reads = reads_of(app)
        answers = await _get_all(app, paths, headers)
        for noticed in (True, False, None):  # None: nothing ended
            if noticed is not None:
                terminate(reads)
            if noticed:
                await asyncio.sleep(0.3)  # the loop reads the server's goodbye meanwhile
            before = reads.handed_over
            answers += await _get_all(app, paths, headers)
            handed.append(reads.handed_over - before)
        return answers

    answers = served(app, True, run)
    assert all(a == answers[0] for a in answers) and answers[0][0] == 200
    assert handed == [0, 1, 0]


def test_a_connection_the_server_ends_between_two_reads_of_a_request_hands_it_over(
    pg_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server ends the request's connection after its first read, and the loop sees it
    go before the second: asyncpg then refuses the read as an interface error, not as a
    lost connection. The request is still handed over (not a 500), audited once."""
    w = pg_world
    headers, ref = _me(w)
    # The session's read, then the assignments' (a route whose first read is not the session's).
    paths = [f"/v1/students/{ref}/assignments"]
    app = create_app(w.config, w.cache, clock=w.clock)
    on_workers = served(app, False, lambda: _get_all(app, paths, headers))
    real_fetch = loopreads.fetch
    reads_seen: list[int] = []

    async def ended_after_the_first(conn: Any, *args: Any, **kwargs: Any) -> Any:
        if len(reads_seen) == 1:  # the request's second read
            with w.cache.engine.begin() as admin:
                admin.exec_driver_sql(f"SELECT pg_terminate_backend({int(conn.get_server_pid())})")
            for _ in range(100):  # until the loop has read the server's goodbye
                if loopreads._gone(conn):  # closed, and given back to asyncpg's pool
                    break
                await asyncio.sleep(0.02)
            assert loopreads._gone(conn)
        reads_seen.append(1)
        return await real_fetch(conn, *args, **kwargs)

    seen: dict[str, int] = {}

    async def run() -> list[Answer]:
        reads = reads_of(app)
        await _get_all(app, paths, headers)  # warm: nothing left to hand over
        reads_seen.clear()
        monkeypatch.setattr(loopreads, "fetch", ended_after_the_first)
        before, audited = reads.handed_over, audit_events(w)
        answers = await _get_all(app, paths, headers)
        seen["handed"], seen["audited"] = reads.handed_over - before, audit_events(w) - audited
        return answers

    assert served(app, True, run) == on_workers
    assert seen == {"handed": 1, "audited": 1}


def test_a_family_token_is_handed_over_before_it_waits_for_a_loop_connection(pg_world: World) -> None:
    """A family token is resolved and throttled on a synchronous connection: its requests
    go to a worker thread at once, without taking one of the loop's few connections, and
    answer as there. They are counted on /metrics apart from other handovers."""
    w = pg_world
    contact = w.district.cases.two_child_contact
    kid = min(w.ref("student", ln.student_id) for ln in w.district.iter("link") if ln.contact_id == contact)
    guards = GuardCounters()
    app = create_app(w.config, w.cache, clock=w.clock, metrics_registry=make_registry(guards), guards=guards)

    async def made() -> str:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
            r = await c.post(
                "/v1/account/tokens",
                json={"students": [kid], "kinds": ["attendance"], "expires_in_days": 1},
                headers=w.headers(w.ensure_account("guardian", contact).id),
            )
            assert r.status_code == 201, r.text
            return str(r.json()["data"]["token"])

    pft = {"Authorization": f"Bearer {served(app, False, made)}"}
    paths = [f"/v1/students/{kid}/attendance", f"/v1/students/{kid}/grades"]  # a kind not chosen: 404
    on_workers = served(app, False, lambda: _get_all(app, paths, pft))
    taken: list[int] = []

    async def run() -> list[Answer]:
        reads = reads_of(app)
        take = reads.take

        async def counted_take() -> Any:
            taken.append(1)
            return await take()

        reads.take = counted_take  # type: ignore[method-assign]
        before = reads.handed_over
        answers = await _get_all(app, paths, pft)
        taken.append(reads.handed_over - before)
        return answers

    on_loop = served(app, True, run)
    assert [a[0] for a in on_loop] == [200, 404]
    assert on_loop == on_workers
    assert taken == [len(paths)], "a family token's request took a loop connection"
    assert _handovers(app) == {"would_block": 0, "family_token": len(paths), "connection_lost": 0}


def test_a_data_key_not_in_memory_is_read_on_a_worker_thread_from_a_sqlite_keystore(
    pg_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Decrypting needs the owner's data key: one not in memory, in a keystore the loop
    does not read (SQLite beside a PostgreSQL cache), is read on a worker thread: the
    request is handed over, never read on the loop."""
    w = pg_world
    headers, ref = _me(w)
    paths = [f"/v1/students/{ref}/grades"]
    app = create_app(w.config, w.cache, clock=w.clock)
    keyring = w.cache.keyring
    threads: list[bool] = []
    real = type(keyring)._raw_key

    def raw_key(self: Any, key_id: str) -> bytes:
        threads.append(threading.current_thread() is threading.main_thread())
        return real(self, key_id)

    monkeypatch.setattr(type(keyring), "_raw_key", raw_key)

    async def run() -> list[Any]:
        reads = reads_of(app)
        first = await _get_all(app, paths, headers)
        keyring.forget()
        threads.clear()
        before = reads.handed_over
        second = await _get_all(app, paths, headers)
        return [first, second, reads.handed_over - before]

    first, second, handed = served(app, True, run)
    assert first == second and first[0][0] == 200
    assert handed == 1 and threads and not any(threads), threads


@pytest.fixture
def pg_keys_url(pg_url: str) -> Iterator[str]:
    """Another PostgreSQL URL for the keystore (a schema of its own: to Portico, another
    database, as docs/scale.md advises), dropped afterwards."""
    with own_schema(pg_url, prefix="k_") as url:
        yield url


def _keys_world(tmp_path: Path, pg_url: str, keys_url: str | None, monkeypatch: pytest.MonkeyPatch) -> World:
    """The served world with its keystore on PostgreSQL: in the cache's database
    (``keys_url`` None, the default) or in another."""
    cheap_hashing(monkeypatch)
    cache = {"url": pg_url, "kek": {"file": str(key_file(tmp_path))}}
    if keys_url is not None:
        cache["keystore_url"] = keys_url
    return build_world(tmp_path, pg_url, cache=cache)


def _cold_keys(
    app: FastAPI, w: World, paths: list[str], headers: dict[str, str], read_sync: list[str]
) -> tuple[list[Any], int]:
    """``paths`` served on the loop once warm, then again with no data key in memory:
    both passes' answers, and how many of the second were handed over (``read_sync``:
    the keys read through the keystore's engine, from the second pass on)."""
    keyring = w.cache.keyring

    async def run() -> tuple[list[Any], int]:
        reads = reads_of(app)
        warm = await _get_all(app, paths, headers)  # the snapshot's shared records read once
        keyring.forget()
        read_sync.clear()
        before = reads.handed_over
        cold = await _get_all(app, paths, headers)
        return [warm, cold], reads.handed_over - before

    return served(app, True, run)  # type: ignore[no-any-return]


@pytest.mark.parametrize("keystore", ["in the cache's database", "in a database of its own"])
def test_a_data_key_not_in_memory_is_read_on_the_loop_from_a_postgresql_keystore(
    tmp_path: Path, pg_url: str, pg_keys_url: str, monkeypatch: pytest.MonkeyPatch, keystore: str
) -> None:
    """A student's first request in a process (its data key not in memory: after a start,
    or dropped as least recently used) awaits the key's read on the loop, from the cache's
    database or the keystore's own: nobody is handed over to a worker thread, the
    keystore's synchronous engine is never used, and the answers are the warm ones. A
    guardian's list of two children holds both keys."""
    keys_url = None if keystore == "in the cache's database" else pg_keys_url
    w = _keys_world(tmp_path, pg_url, keys_url, monkeypatch)
    try:
        headers, ref = _me(w)
        guardian, _ = guardian_routes(w)
        app = create_app(w.config, w.cache, clock=w.clock)
        keyring = w.cache.keyring
        assert (keyring.engine.url.render_as_string(hide_password=False) == pg_url) == (keys_url is None)
        read_sync: list[str] = []
        real = type(keyring)._raw_key

        def raw_key(self: Any, key_id: str) -> bytes:
            read_sync.append(key_id)
            return real(self, key_id)

        monkeypatch.setattr(type(keyring), "_raw_key", raw_key)
        (warm, cold), handed = _cold_keys(app, w, dashboard(ref), headers, read_sync)
        assert cold == warm and [a[0] for a in cold] == [200] * len(cold)
        assert handed == 0 and read_sync == []
        (warm, cold), handed = _cold_keys(app, w, ["/v1/students"], guardian, read_sync)
        assert cold == warm and len(orjson.loads(cold[0][2])["data"]) == 2
        assert handed == 0 and read_sync == []
        if keys_url is not None:  # its pool closed with the loop's
            assert app.state.portico.loop_reads is None
    finally:
        w.close()


def test_a_cold_snapshot_is_read_wholly_on_the_loop(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process's first requests in a snapshot (after a start, after each publish) read its
    schools, classes and classes' timetables once, and the data keys not in memory (the
    student's, the shared records', the classes' assignments' and the notices'), all awaited
    on the loop: the dashboard, the profile, assignments, notices and a guardian's list hand
    nothing over to a worker thread, and answer as worker threads do."""
    w = _keys_world(tmp_path, pg_url, None, monkeypatch)
    try:
        headers, ref = _me(w)
        guardian, _ = guardian_routes(w)
        app = create_app(w.config, w.cache, clock=w.clock)
        # The notices first: no school or class read before them holds the shared key.
        mine = ["/v1/notices", *dashboard(ref), f"/v1/students/{ref}", f"/v1/students/{ref}/assignments"]
        asks = [(p, headers) for p in mine] + [("/v1/students", guardian)]

        async def every() -> list[Answer]:
            return [a for p, h in asks for a in await _get_all(app, [p], h)]

        async def cold() -> tuple[list[Answer], int]:
            reads = reads_of(app)
            w.cache.keyring.forget()  # and no key in memory: a process just started
            return await every(), reads.handed_over

        on_loop, handed = served(app, True, cold)
        assert handed == 0, "a cold request was handed over to a worker thread"
        assert on_loop == served(app, False, every)
        assert {a[0] for a in on_loop} == {200}
    finally:
        w.close()


def test_a_data_key_whose_kek_is_not_loaded_yet_is_read_on_a_worker_thread(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key's row names a KEK this process has not loaded (a rotation not yet picked
    up): picking it up reads the key file, so the request is handed over, and the worker
    thread's read loads the rotated ring."""
    w = _keys_world(tmp_path, pg_url, None, monkeypatch)
    try:
        headers, ref = _me(w)
        app = create_app(w.config, w.cache, clock=w.clock)
        keyring = w.cache.keyring
        loaded = keyring.keks
        stale = KekRing.parse(new_kek_line("kek-other"), "a ring without this district's KEK")
        paths = [f"/v1/students/{ref}/grades"]

        async def run() -> tuple[list[Any], int]:
            reads = reads_of(app)
            warm = await _get_all(app, paths, headers)
            keyring.forget()
            keyring.keks = stale
            before = reads.handed_over
            cold = await _get_all(app, paths, headers)
            return [warm, cold], reads.handed_over - before

        (warm, cold), handed = served(app, True, run)
        assert cold == warm and cold[0][0] == 200
        assert handed == 1
        assert keyring.keks.ids == loaded.ids  # picked up again from the key file
    finally:
        w.close()


def test_an_error_after_the_check_is_audited_as_on_a_worker_thread(pg_world: World) -> None:
    """A bad cursor is refused after the relationship check: the same 400, and the same
    audit event recorded, on the loop as on a worker thread."""
    w = pg_world
    headers, ref = _me(w)
    paths = [f"/v1/students/{ref}/attendance?cursor=not-a-cursor"]
    app = create_app(w.config, w.cache, clock=w.clock)
    before = audit_events(w)
    on_workers = served(app, False, lambda: _get_all(app, paths, headers))
    between = audit_events(w)
    on_loop = served(app, True, lambda: _get_all(app, paths, headers))
    assert on_loop == on_workers and on_loop[0][0] == 400
    assert between - before == audit_events(w) - between == 1


def test_a_connection_lost_after_the_audit_commit_fails_the_request_and_audits_it_once(
    pg_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit's append committed on the server, then the connection was lost: the request is
    not served again on a worker thread (it would be audited twice); it fails, no data."""
    w = pg_world
    headers, ref = _me(w)
    paths = [f"/v1/students/{ref}/attendance"]
    app = create_app(w.config, w.cache, clock=w.clock)
    real = audit.commit_on_loop

    async def committed_then_lost(conn: Any, entries: list[Any], head: Any = None) -> None:
        await real(conn, entries, head)
        raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")

    async def run() -> list[Any]:
        reads = reads_of(app)
        await _get_all(app, paths, headers)
        monkeypatch.setattr(audit, "commit_on_loop", committed_then_lost)
        before, handed = audit_events(w), reads.handed_over
        (answer,) = await _get_all(app, paths, headers)
        return [answer, audit_events(w) - before, reads.handed_over - handed]

    answer, audited, handed = served(app, True, run)
    assert answer[0] == 500 and b'"data"' not in answer[2]
    assert (audited, handed) == (1, 0)


def test_loop_connections_are_shared_by_at_most_their_number_and_handed_on(pg_url: str) -> None:
    """Five takers of three connections: three at once, the others each get one given back
    (a cancelled taker passes its connection on); closing gives every one back."""

    async def main() -> list[int]:
        reads = LoopReads(pg_url, connections=3)
        await reads.start()
        taken = [await reads.take() for _ in range(3)]
        waiting = [asyncio.ensure_future(reads.take()) for _ in range(2)]
        cancelled = asyncio.ensure_future(reads.take())
        await asyncio.sleep(0.05)
        assert not any(t.done() for t in [*waiting, cancelled])
        cancelled.cancel()
        reads.give(taken[0])
        reads.give(taken[1])
        got = [await t for t in waiting]
        assert {id(c) for c in got} == {id(taken[0]), id(taken[1])}
        values = [int(await c.fetchval("SELECT 1")) for c in got]
        for c in [*got, taken[2]]:
            reads.give(c)
        first = await reads.take()
        assert first in [*got, taken[2]]  # from the shelf, no new connection
        held = [first]
        held += [await reads.take() for _ in range(2)]  # all three out again
        late = asyncio.ensure_future(reads.take())
        await asyncio.sleep(0.01)
        await reads.close()  # a taker still waiting is told the connections are closed
        with pytest.raises(ConnectionError):
            await late
        for c in held:
            reads.give(c)  # given back after the close: nothing to do
        assert reads.pool is None and not reads.here()
        return values

    assert asyncio.run(main()) == [1, 1]


def test_a_lost_connection_given_back_lets_a_waiting_taker_open_another(pg_url: str) -> None:
    async def main() -> tuple[int, bool]:
        reads = LoopReads(pg_url, connections=1)
        await reads.start()
        conn = await reads.take()
        waiter = asyncio.ensure_future(reads.take())
        await asyncio.sleep(0.05)
        assert not waiter.done()
        pid = conn.get_server_pid()
        with psycopg.connect(
            pg_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
        ) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with contextlib.suppress(Exception):
            await conn.fetchval("SELECT 1")  # where a request learns the server is gone
        reads.give(conn)
        fresh = await asyncio.wait_for(waiter, 5)
        try:
            return int(await fresh.fetchval("SELECT 1")), fresh.get_server_pid() != pid
        finally:
            reads.give(fresh)
            await reads.close()

    assert asyncio.run(main()) == (1, True)


def test_statements_are_numbered_for_asyncpg_and_the_url_keeps_its_settings() -> None:
    sql = "SELECT :a, :b::text WHERE x IN :refs AND y = :a AND z LIKE '%k?' AND j ? 'key'"
    text, order = expanded(sql, (("refs", 3),), "asyncpg")
    assert text == "SELECT $1, $2::text WHERE x IN ($3, $4, $5) AND y = $6 AND z LIKE '%k?' AND j ? 'key'"
    assert order == ("a", "b", "refs", "a")
    assert expanded("SELECT 1 WHERE x IN :none", (("none", 0),), "asyncpg")[0] == "SELECT 1 WHERE x IN (NULL)"
    got = connect_arguments(
        "postgresql+psycopg://u@127.0.0.1:5432/db?options=-csearch_path%3Dbench&application_name=b1&sslmode=disable"
    )
    assert got.dsn == "postgresql://u@127.0.0.1:5432/db?sslmode=disable"
    assert got.server_settings == {"search_path": "bench", "application_name": "b1"}
    assert (got.timeout, got.ignored) == (None, ())


@pytest.mark.parametrize(
    ("options", "settings"),
    [
        ("-c%20search_path%3Dks", {"search_path": "ks"}),  # as PostgreSQL's documentation spells it
        ("-c+search_path%3Dks+-c+statement_timeout%3D5s", {"search_path": "ks", "statement_timeout": "5s"}),
        ("--search_path%3Dks%20--lock-timeout%3D2s", {"search_path": "ks", "lock_timeout": "2s"}),
        ("-csearch_path%3Dmy%5C%20schema", {"search_path": "my schema"}),  # a backslash keeps the space
    ],
)
def test_the_loops_connections_read_a_libpq_url_as_psycopg_does(
    options: str, settings: dict[str, str]
) -> None:
    """Every spelling of ``options`` libpq takes, ``connect_timeout`` as asyncpg's timeout,
    and libpq's client-side options asyncpg has no equivalent for left out and named (asyncpg
    would send them to the server as settings, which it refuses: every read a 500)."""
    got = connect_arguments(
        f"postgresql+psycopg://u:p%26w@db:5432/c?options={options}&connect_timeout=5"
        "&keepalives=1&fallback_application_name=portico&sslrootcert=%2Fetc%2Fca%20x.pem"
    )
    assert got.server_settings == {**settings, "application_name": "portico"}
    assert got.timeout == 5.0
    assert got.ignored == ("keepalives",)
    assert got.dsn == "postgresql://u:p%26w@db:5432/c?sslrootcert=%2Fetc%2Fca+x.pem"
    with pytest.raises(ValueError, match="'-B' is not a session setting"):
        connect_arguments("postgresql://u@db/c?options=-B%208MB")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("options=-c%20lock-timeout%3D2s", {"lock_timeout": "2s"}),  # dashes read as underscores
        # The application_name parameter (or libpq's fallback, sent in its place) is applied
        # by the server after the options, whatever the order in the URL.
        ("application_name=p&options=-capplication_name%3Do", {"application_name": "p"}),
        ("options=-capplication_name%3Do&application_name=p", {"application_name": "p"}),
        ("options=-capplication_name%3Do&fallback_application_name=f", {"application_name": "f"}),
        ("fallback_application_name=f&application_name=p", {"application_name": "p"}),
    ],
)
def test_settings_take_effect_as_postgresql_applies_them(query: str, expected: dict[str, str]) -> None:
    """Found by a review: PostgreSQL's own reading of ``options`` and of the startup's
    ``application_name``."""
    assert connect_arguments(f"postgresql+psycopg://u@db/c?{query}").server_settings == expected


@pytest.mark.parametrize("name", ["hostaddr", "channel_binding", "require_auth", "gssencmode", "sslsni"])
def test_a_url_the_loop_cannot_honour_is_refused_with_the_config(tmp_path: Path, name: str) -> None:
    """Found by a review: ``hostaddr`` was dropped (the loop's connections looked the host up,
    or went to the default one), and security parameters asyncpg has no equivalent for were
    dropped with a log line. Such a URL is refused when the config is validated, naming the
    key and the parameter, and by the loop's connections themselves."""
    url = f"postgresql://u@db.internal/c?{name}=x"
    with pytest.raises(ValueError, match=f"the parameter {name} is not supported"):
        connect_arguments(url)
    raw = raw_config(tmp_path, url)
    with pytest.raises(ValidationError) as err:
        PorticoConfig.model_validate(raw)
    assert err.value.errors()[0]["loc"] == ("cache", "url")
    assert f"the parameter {name} is not supported" in str(err.value)


@pytest.fixture(
    params=[
        "-c%20search_path%3D{schema}",
        "--search_path%3D{schema}",
        "-csearch_path%3D{schema}&connect_timeout=5",
    ]
)
def libpq_keys_url(pg_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A keystore URL in one of libpq's spellings psycopg takes (a schema of its own)."""
    with own_schema(pg_url, request.param, prefix="k_") as url:
        yield url


def test_a_keystore_url_in_any_libpq_spelling_is_read_on_the_loop(
    tmp_path: Path, pg_url: str, libpq_keys_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by a review: ``-c search_path=...`` with a space became a setting with no name
    (every cold request handed over as a lost connection), ``--search_path=...`` was dropped
    (the keystore's table not found: 500), ``connect_timeout`` was sent as a setting (500)."""
    w = _keys_world(tmp_path, pg_url, libpq_keys_url, monkeypatch)
    try:
        headers, ref = _me(w)
        app = create_app(w.config, w.cache, clock=w.clock)
        (warm, cold), handed = _cold_keys(app, w, dashboard(ref)[:1], headers, [])
        assert warm[0][0] == 200 and cold == warm
        assert handed == 0
    finally:
        w.close()


def test_a_keystore_the_loop_cannot_read_hands_the_request_over(
    tmp_path: Path, pg_url: str, pg_keys_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The keystore's read refused on the loop's connection (here: its table gone from the
    schema the loop reads, while the worker threads' engine still finds it): the request is
    handed over and answered by a worker thread, not a 500."""
    w = _keys_world(tmp_path, pg_url, pg_keys_url, monkeypatch)
    try:
        headers, ref = _me(w)
        app = create_app(w.config, w.cache, clock=w.clock)
        keys_url = pg_keys_url.replace("k_", "gone_k_")  # a schema that does not exist
        real = loopreads.LoopReads.__init__

        def init(self: LoopReads, url: str, connections: int = 4, *, keys: str | None = None) -> None:
            real(self, url, connections, keys=None if keys is None else keys_url)

        monkeypatch.setattr(loopreads.LoopReads, "__init__", init)
        (warm, cold), handed = _cold_keys(app, w, dashboard(ref)[:1], headers, [])
        assert warm[0][0] == 200 and cold == warm
        assert handed == 1
    finally:
        w.close()


def test_datetimes_are_bound_as_psycopg_binds_them(pg_world: World) -> None:
    """For ``timestamp without time zone`` columns: an aware datetime as naive UTC; a date as it is."""
    w = pg_world

    async def main() -> list[Any]:
        reads = LoopReads(w.config.cache.url)
        await reads.start()
        conn = await reads.take()
        try:
            from cache.loopreads import fetch

            at = dt.datetime(2026, 11, 5, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
            return list(
                await fetch(conn, "SELECT :at::timestamp, :d::date", {"at": at, "d": dt.date(2026, 1, 2)})
            )
        finally:
            reads.give(conn)
            await reads.close()

    (row,) = asyncio.run(main())
    assert tuple(row) == (dt.datetime(2026, 11, 5, 7, 30), dt.date(2026, 1, 2))


def test_a_disabled_accounts_session_is_not_touched_on_the_loop(
    pg_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by a review: a session due its touch whose account was disabled was touched on
    the loop, then handed over to be deleted: a handed-over request had written. Now only
    an active account's session is touched there; this one is deleted on a worker thread."""
    w = pg_world
    headers, ref = _me(w)
    app = create_app(w.config, w.cache, clock=w.clock)
    sent: list[str] = []
    real = loopreads.fetch

    async def fetch(conn: Any, sql: str, *a: Any, **k: Any) -> Any:
        sent.append(sql)
        return await real(conn, sql, *a, **k)

    async def run() -> tuple[int, int]:
        reads = reads_of(app)
        await _get_all(app, dashboard(ref)[:1], headers)  # warm
        with w.cache.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE session SET last_seen_at = last_seen_at - interval '5 minutes'")
            conn.exec_driver_sql("UPDATE account SET status = 'disabled'")
        monkeypatch.setattr(loopreads, "fetch", fetch)
        before = reads.handed_over
        ((status, _, _),) = await _get_all(app, dashboard(ref)[:1], headers)
        return status, reads.handed_over - before

    assert served(app, True, run) == (401, 1)
    assert not [q for q in sent if q.startswith("UPDATE session")], "touched on the loop, then handed over"
    with w.cache.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM session").scalar() == 0


def test_class_timetables_emptied_after_their_read_on_the_loop_hand_nothing_over(pg_world: World) -> None:
    """Found by a review: the classes' timetables read on the loop were looked up in their
    memo again, and an emptied memo (its bound reached by this very read) sent the request
    to a worker thread. They are now passed along."""
    w = pg_world
    headers, ref = _me(w)
    app = create_app(w.config, w.cache, clock=w.clock)
    path = f"/v1/students/{ref}/timetable"
    memo = queries._CLASS_TIMETABLES

    async def run() -> tuple[list[Answer], int]:
        reads = reads_of(app)
        warm = await _get_all(app, [path], headers)  # schools, sections, keys
        memo.clear()
        for i in range(20_000 - 1):  # one short of the bound: this read's classes empty it
            memo[("other", str(i), 0)] = {}
        before = reads.handed_over
        again = await _get_all(app, [path], headers)
        return [warm[0], again[0]], reads.handed_over - before

    try:
        (warm, again), handed = served(app, True, run)
    finally:
        memo.clear()
    assert warm == again and warm[0] == 200
    assert handed == 0


def test_a_class_not_in_the_snapshot_is_read_once_not_for_every_request(pg_world: World) -> None:
    """Found by a review: a grade's class with no record in the snapshot (allowed: its brief
    says so) was read again by every request, and on the loop handed each one over. It is
    remembered as absent for the snapshot; the answers do not change."""
    w = pg_world
    headers, ref = _me(w)
    app = create_app(w.config, w.cache, clock=w.clock)
    path = f"/v1/students/{ref}/grades"
    sid = w.district.cases.student_login
    grade = next(g for g in w.district.iter("grade") if g.student_id == sid)
    gone = w.ref("section", grade.section_id)
    with w.cache.engine.begin() as conn:
        conn.exec_driver_sql(f"DELETE FROM record WHERE kind = 'section' AND ref = '{gone}'")  # noqa: S608

    async def run() -> tuple[list[Answer], list[int]]:
        reads = reads_of(app)
        answers, handed = [], []
        for _ in range(3):
            before = reads.handed_over
            answers += await _get_all(app, [path], headers)
            handed.append(reads.handed_over - before)
        return answers, handed

    answers, handed = served(app, True, run)
    assert handed == [0, 0, 0]
    assert all(a == answers[0] for a in answers) and answers[0][0] == 200
    assert answers == served(app, False, lambda: _get_all(app, [path] * 3, headers))


def _reads_of_each(
    w: World, app: FastAPI, paths: list[str], headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> tuple[list[Answer], list[int]]:
    """Each path's answer on a warm loop, and the reads it awaited there (``loopreads.fetch``:
    the session's statement is one; the audit's commit is not a read)."""
    real_fetch = loopreads.fetch
    reads: list[int] = []

    async def counted(*args: Any, **kwargs: Any) -> Any:
        reads[-1] += 1
        return await real_fetch(*args, **kwargs)

    async def run() -> list[Answer]:
        await _get_all(app, paths, headers)  # warm: the snapshot's shared records and keys read
        monkeypatch.setattr(loopreads, "fetch", counted)
        answers = []
        for path in paths:
            reads.append(0)
            answers += await _get_all(app, [path], headers)
        return answers

    return served(app, True, run), reads


def test_a_routes_first_read_comes_in_the_sessions_statement(
    pg_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each dashboard route plans its first read of the student before the session is read,
    and it comes back in the session's own statement: one read a request, the same answers
    as on a worker thread. A later page of behaviour reads its page with the session and the
    range after it; a bad range is the same 400, after the sign-in gates."""
    w = pg_world
    headers, ref = _me(w)
    base = f"/v1/students/{ref}"
    app = create_app(w.config, w.cache, clock=w.clock)
    later = f"{base}/behaviour?from=2026-08-01&to=2026-11-23&limit=2"
    paths = [
        *dashboard(ref),
        f"{base}/reports",
        f"{base}/reports?limit=1",
        f"{later}&cursor={_next_cursor(app, later, headers)}",
        f"{base}/attendance?from=2026-13-01",
        f"{base}/grades?cursor=not-a-cursor",
    ]
    on_workers = served(app, False, lambda: _get_all(app, paths, headers))
    answers, reads = _reads_of_each(w, app, paths, headers, monkeypatch)
    assert answers == on_workers
    assert [a[0] for a in answers] == [200] * (len(paths) - 2) + [400, 400]
    assert reads == [1] * (len(paths) - 3) + [2, 1, 1], list(zip(paths, reads, strict=True))


def test_a_first_read_planned_in_the_districts_zone_is_read_again_for_a_school_in_another(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first read is planned before the student, so before the school's time zone, is
    known: in the district's. The student's school is in New York, the district in UTC. At
    15:20 UTC (10:20 at school, before the 10:30 same-day time there, past it in UTC) the plan
    shows today's marks and the school hides them: the route reads again, and today's marks
    stay hidden. At 15:31 UTC the two agree, and the planned read is the route's."""
    cheap_hashing(monkeypatch)
    w = build_world(tmp_path, pg_url, district={"name": "Test District", "timezone": "UTC"})
    try:
        headers, ref = _me(w)
        sid = w.district.cases.student_login
        today = w.clock().date()
        assert any(m.date == today for m in w.district.iter("attendance") if m.student_id == sid)
        app = create_app(w.config, w.cache, clock=w.clock)
        paths = [f"/v1/students/{ref}/attendance"]
        days = {}
        for at, reads_expected in ((dt.time(15, 20), 2), (dt.time(15, 31), 1)):
            w.clock.at = dt.datetime.combine(today, at, dt.UTC)
            on_workers = served(app, False, lambda: _get_all(app, paths, headers))
            answers, reads = _reads_of_each(w, app, paths, headers, monkeypatch)
            monkeypatch.undo()
            cheap_hashing(monkeypatch)
            assert answers == on_workers and reads == [reads_expected], at
            days[at] = {m["date"] for m in orjson.loads(answers[0][2])["data"]}
        assert today.isoformat() not in days[dt.time(15, 20)] and today.isoformat() in days[dt.time(15, 31)]
    finally:
        w.close()


def _kept(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The students whose first read a request kept (``Reader.read_first``), in order."""
    kept: list[str] = []
    real = Reader.read_first

    def spied(self: Reader, first: Any, student: str, *args: Any) -> None:
        kept.append(student)
        real(self, first, student, *args)

    monkeypatch.setattr(Reader, "read_first", spied)
    return kept


def test_a_first_read_keeps_nothing_of_a_child_the_parent_may_not_see(
    pg_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A parent of two opens both children's dashboards and a stranger's child's: the same
    answers as on worker threads, one read for each of their own children's requests, and
    nothing of the stranger's child read or kept (the uniform 404). Once one child is held,
    nothing of that child is kept either."""
    w = pg_world
    contact = w.district.cases.two_child_contact
    headers = w.headers(w.ensure_account("guardian", contact).id)
    kids = sorted({ln.student_id for ln in w.district.iter("link") if ln.contact_id == contact})
    stranger = next(s.source_id for s in w.district.iter("student") if s.source_id not in kids)
    refs = [w.ref("student", sid) for sid in [*kids, stranger]]
    paths = [path for ref in refs for path in dashboard(ref)]
    per = len(dashboard(refs[0]))
    app = create_app(w.config, w.cache, clock=w.clock)
    for held in (False, True):
        if held:
            w.hold("student", kids[0], "child-protection")
        on_workers = served(app, False, lambda: _get_all(app, paths, headers))
        kept = _kept(monkeypatch)
        answers, reads = _reads_of_each(w, app, paths, headers, monkeypatch)
        monkeypatch.undo()
        cheap_hashing(monkeypatch)
        seen = refs[1:2] if held else refs[:2]
        assert answers == on_workers
        assert [a[0] for a in answers] == [200 if ref in seen else 404 for ref in refs for _ in range(per)]
        assert set(kept) == set(seen), "a first read kept for a child the parent may not see"
        assert [
            n for ref, n in zip([r for r in refs for _ in range(per)], reads, strict=True) if ref in seen
        ] == [1] * per * len(seen)


def test_the_sign_in_gates_come_before_a_plans_arguments_and_a_touch_answers_the_same(
    pg_world: World,
) -> None:
    """Bad arguments with a bad token are the 401, with the acceptable-use policy not accepted
    the 403, as on worker threads; and a session due its touch reads its route's first read
    in the same statement and answers as a worker thread does."""
    w = pg_world
    headers, ref = _me(w)
    base = f"/v1/students/{ref}"
    bad = [
        f"{base}/attendance?from=2026-13-01",
        f"{base}/grades?limit=abc",
        f"{base}/behaviour?cursor=zz&limit=0",
    ]
    good = [f"{base}/grades", f"{base}/timetable", f"{base}/behaviour?limit=3"]
    app = create_app(w.config, w.cache, clock=w.clock)

    def both(paths: list[str], with_headers: dict[str, str]) -> list[Answer]:
        on_workers = served(app, False, lambda: _get_all(app, paths, with_headers))
        on_loop = served(app, True, lambda: _get_all(app, paths, with_headers))
        assert on_loop == on_workers
        return on_loop

    assert {a[0] for a in both(bad, {"Authorization": "Bearer not-a-token"})} == {401}
    with w.cache.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE account SET aup_version = 'an older one'")
    assert {a[0] for a in both(bad + good, headers)} == {403}
    with w.cache.engine.begin() as conn:
        conn.execute(text("UPDATE account SET aup_version = :v"), {"v": w.config.access.aup.version})

    async def each_due_its_touch() -> list[Answer]:
        out = []
        for path in good:
            with w.cache.engine.begin() as conn:
                conn.exec_driver_sql("UPDATE session SET last_seen_at = last_seen_at - interval '5 minutes'")
            out += await _get_all(app, [path], headers)
        return out

    on_workers = served(app, False, lambda: _get_all(app, good, headers))
    assert served(app, True, each_due_its_touch) == on_workers
    assert [a[0] for a in on_workers] == [200] * len(good)
