"""Syncs under faults, against the simulator: SIS down, 429 storms, token expiry, churn mid-pull.

Each test prints its figure. Time is virtual where the proof is about waiting (the
client's sleep and clock are injected), so a storm of 30-second Retry-Afters costs nothing.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from cache.store import Cache, open_cache
from config.secrets import SecretResolver
from connectors.http import ReadOnlyClient
from connectors.powerschool.auth import TokenSession
from connectors.powerschool.connector import Options, PowerSchoolConnector
from gateway.api.app import create_app
from gateway.sync.engine import SyncEngine
from simulators.district.synthetic import DistrictSpec, SyntheticDistrict
from simulators.powerschool.core import PowerSchoolSim
from simulators.powerschool.model import CONNECTOR_OPTIONS
from simulators.powerschool.server import free_port, make_app, run_in_thread
from tests.support.config import make_config
from tests.support.snapshots import published_refs
from tests.support.world import add_guardian

CID, SECRET = "fault-client", "fault-secret"
PASSWORD = "a long test passphrase"


def show(capsys: pytest.CaptureFixture[str], line: str) -> None:
    with capsys.disabled():
        print(f"\n  [figure] {line}")


@pytest.fixture(scope="module")
def district() -> SyntheticDistrict:
    return SyntheticDistrict(DistrictSpec(seed=21, schools=1, students=40, today=dt.date.today()))


class Clock:
    """Virtual time: sleeping advances it; requests take none."""

    def __init__(self) -> None:
        self.now = time.time()
        self.slept = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds

    def __call__(self) -> float:
        return self.now


def connector(
    base_url: str = "https://sis.test",
    transport: httpx.BaseTransport | None = None,
    clock: Clock | None = None,
    **opts: Any,
) -> PowerSchoolConnector:
    """The PowerSchool connector as ``build`` wires it, with the clock injected too."""
    options = Options.model_validate(
        {
            "base_url": base_url,
            "client_id": {"env": "X"},
            "client_secret": {"env": "Y"},
            **CONNECTOR_OPTIONS,
            **opts,
        }
    )
    clock = clock or Clock()
    client = ReadOnlyClient(
        base_url,
        transport=transport,
        timeout=options.timeout,
        sleep=clock.sleep,
        clock=clock,
        max_attempts=options.max_attempts,
    )
    return PowerSchoolConnector("sis", options, TokenSession(client, CID, SECRET))


def handler(sim: PowerSchoolSim, before: Callable[[httpx.Request], None]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        before(request)
        return sim.handle(request)

    return httpx.MockTransport(handle)


def open_engine(tmp_path: Path, db_url: str, **cache_overrides: Any) -> tuple[Cache, SyncEngine]:
    config, _ = make_config(tmp_path, db_url)
    if cache_overrides:
        config = config.model_copy(update={"cache": config.cache.model_copy(update=cache_overrides)})
    cache = open_cache(config, SecretResolver(base_dir=tmp_path))
    return cache, SyncEngine(cache.engine, cache.keyring, config, config.connectors[0])


def test_sis_down_for_ten_runs_every_api_read_answers_200_from_the_last_snapshot_and_turns_stale(
    tmp_path: Path, sqlite_url: str, district: SyntheticDistrict, capsys: pytest.CaptureFixture[str]
) -> None:
    cache, engine = open_engine(tmp_path, sqlite_url, stale_after=dt.timedelta(seconds=2))
    sim = PowerSchoolSim(district, client_id=CID, client_secret=SECRET)
    slow = make_app(district, client_id=CID, client_secret=SECRET)
    slow.state.sim.faults.delay = 2.0
    slow_url, stop_slow = run_in_thread(slow)
    contact = district.cases.two_child_contact
    add_guardian(cache, contact, "guardian@example.org", PASSWORD)
    down = PowerSchoolSim(district, client_id=CID, client_secret=SECRET)
    down.faults.server_errors_next = 10**6
    outages: list[tuple[str, Callable[[], PowerSchoolConnector]]] = [
        ("refused", lambda: connector(f"http://127.0.0.1:{free_port()}", max_attempts=2)),
        ("timeout", lambda: connector(slow_url, timeout=0.2, max_attempts=2)),
        ("5xx", lambda: connector(transport=httpx.MockTransport(down.handle), max_attempts=3)),
    ]
    reads: list[tuple[int, bool, int]] = []
    errors: list[str] = []
    started = time.monotonic()
    try:
        with TestClient(create_app(cache.config, cache)) as api:
            assert engine.run(connector(transport=httpx.MockTransport(sim.handle))).status == "published"
            token = api.post(
                "/v1/auth/login", json={"username": "guardian@example.org", "password": PASSWORD}
            )
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            first = api.get("/v1/students", headers=headers).json()["data"]
            for run in range(10):
                kind, make = outages[run % 3]
                out = engine.run(make())
                assert out.status == "failed", (kind, out)
                errors.append(f"{kind}:{out.error_class}")
                r = api.get("/v1/students", headers=headers)
                reads.append((r.status_code, r.json()["meta"]["stale"], len(r.json()["data"])))
                assert r.json()["data"] == first
                time.sleep(0.3)
    finally:
        stop_slow()
        cache.dispose()
    seconds = time.monotonic() - started
    show(
        capsys,
        f"SIS down x10 ({', '.join(sorted(set(errors)))}) over {seconds:.1f}s: "
        f"API reads {[r[0] for r in reads]}, stale from read {next(i for i, r in enumerate(reads, 1) if r[1])}",
    )
    assert all(status == 200 and n == 2 for status, _, n in reads)
    assert not reads[0][1] and reads[-1][1]  # fresh at first, stale past the 2 s threshold
    stale = [s for _, s, _ in reads]
    assert stale == sorted(stale)  # once stale, stale until a sync succeeds


def test_a_429_storm_is_waited_out_exactly_as_retry_after_says_and_the_sync_completes(
    tmp_path: Path, sqlite_url: str, district: SyntheticDistrict, capsys: pytest.CaptureFixture[str]
) -> None:
    cache, engine = open_engine(tmp_path, sqlite_url)
    sim = PowerSchoolSim(district, client_id=CID, client_secret=SECRET, v1_page_cap=10, schema_page_cap=300)
    clock = Clock()
    sent: list[tuple[float, float | None]] = []  # (when, earliest allowed)
    earliest = [0.0]
    n = [0]

    def before(request: httpx.Request) -> None:
        n[0] += 1
        sent.append((clock(), earliest[0]))
        if n[0] % 6 == 0:  # a storm of three 429s every sixth request
            sim.faults.rate_limit_next = 3
        if sim.faults.rate_limit_next and not request.url.path.startswith("/oauth"):
            # Alternate delta-seconds and HTTP-date forms.
            if n[0] % 2:
                sim.faults.retry_after = "7"
                earliest[0] = clock() + 7
            else:
                when = int(clock()) + 5
                sim.faults.retry_after = email.utils.formatdate(when, usegmt=True)
                earliest[0] = float(when)

    out = engine.run(connector(transport=handler(sim, before), clock=clock))
    cache.dispose()
    early = [(t, e) for t, e in sent if e is not None and t < e]
    show(
        capsys,
        f"429 storms: {out.retries} retries over {len(sent)} requests, {clock.slept:.0f}s waited (virtual); "
        f"requests sent before Retry-After: {len(early)}; run {out.status}",
    )
    assert out.status == "published", out
    assert out.retries >= 30
    assert early == []
    for kind in district.kinds():
        assert out.counts[kind]["added"] == district.count(kind), kind


def test_token_expiry_in_the_middle_of_paging_refreshes_once_and_loses_or_doubles_no_page(
    tmp_path: Path, sqlite_url: str, district: SyntheticDistrict, capsys: pytest.CaptureFixture[str]
) -> None:
    cache, engine = open_engine(tmp_path, sqlite_url)
    sim = PowerSchoolSim(district, client_id=CID, client_secret=SECRET, v1_page_cap=10, schema_page_cap=200)
    n = [0]

    def before(request: httpx.Request) -> None:
        n[0] += 1
        if n[0] == 25:
            sim.faults.expire_tokens_after = 0  # every token issued so far dies now

    out = engine.run(connector(transport=handler(sim, before)))
    cache.dispose()
    rejected = sum(c["rejected"] for c in out.counts.values())
    show(
        capsys,
        f"token expiry mid-paging: {sim.tokens_issued} tokens issued, {rejected} records doubled or set aside",
    )
    assert out.status == "published", out
    assert sim.tokens_issued == 2
    assert rejected == 0
    for kind in district.kinds():
        assert out.counts[kind]["added"] == district.count(kind), kind


@pytest.mark.parametrize(("inserts", "deletes"), [(3, 0), (0, 3), (2, 2)])
def test_records_inserted_and_deleted_during_a_full_pull_never_go_silently_missing(
    tmp_path: Path,
    sqlite_url: str,
    district: SyntheticDistrict,
    inserts: int,
    deletes: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import dataclasses

    cache, engine = open_engine(tmp_path, sqlite_url)
    sim = PowerSchoolSim(district, client_id=CID, client_secret=SECRET, schema_page_cap=100)
    kind = "attendance"
    pages = [0]
    done = [False]

    def before(request: httpx.Request) -> None:
        if request.url.path.endswith("/attendance") and "page" in request.url.params:
            pages[0] += 1
            if pages[0] == 3 and not done[0]:
                done[0] = True
                first = list(sim.model.iter(kind, 0, inserts))
                sim.state.insert(
                    [dataclasses.replace(r, source_id=str(900_000_000 + n)) for n, r in enumerate(first)]
                )
                sim.state.delete(kind, ids=[r.source_id for r in sim.model.iter(kind, 10, 10 + deletes)])

    out = engine.run(connector(transport=handler(sim, before)))
    with cache.engine.connect() as conn:
        history = [s for (s,) in conn.execute(text("SELECT status FROM sync_run ORDER BY id"))]
    truth = {
        rec.source_id
        for p in connector(transport=httpx.MockTransport(sim.handle)).read(kind, None)
        for rec in p.records
    }
    idx = cache.keyring.index
    published = published_refs(cache, kind)
    cache.dispose()
    show(
        capsys,
        f"+{inserts}/-{deletes} {kind} mid-pull: runs {history}; published {len(published)} = source {len(truth)}",
    )
    assert out.status == "published", history
    assert published == {idx.ref("sis", kind, sid) for sid in truth}
