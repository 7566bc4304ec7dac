"""The circuit breaker opens after repeated failed runs, probes after a cool-down, closes on success."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cache.store import open_cache
from cache.types import utcnow
from config.settings import Breaker
from gateway.sync import breaker
from gateway.sync.engine import SyncEngine
from tests.support.config import make_config
from tests.support.connectors import ListConnector
from tests.support.records import family

SIS = {
    "name": "sis",
    "type": "powerschool",
    "breaker": {"failures": 3, "cooldown": "PT10M", "max_cooldown": "PT30M"},
}


@pytest.fixture
def setup(tmp_path: Path, db_url: str):
    config, secrets = make_config(tmp_path, db_url, connectors=[SIS])
    cache = open_cache(config, secrets)
    yield cache, SyncEngine(cache.engine, cache.keyring, config, config.connectors[0])
    cache.dispose()


def failing() -> ListConnector:
    conn = ListConnector("sis", family(120))
    conn.fail_in = "students"
    return conn


def test_three_failed_runs_in_a_row_open_the_breaker_for_the_cooldown(setup) -> None:
    cache, engine = setup
    assert engine.run(ListConnector("sis", family(120))).status == "published"
    settings = engine.cs.breaker
    states = []
    for _ in range(3):
        before = utcnow()
        out = engine.run(failing())
        assert out.status == "failed"
        states.append(out.breaker)
    assert states == ["closed", "closed", "open"]
    view = breaker.check(cache.engine, "sis", settings)
    assert view.state == "open" and view.failures == 3 and not view.allows_run
    assert view.open_until is not None
    assert before + dt.timedelta(minutes=10) <= view.open_until <= utcnow() + dt.timedelta(minutes=10)


def test_after_the_cooldown_a_probe_may_run_and_its_failure_reopens_for_twice_as_long(setup) -> None:
    cache, engine = setup
    for _ in range(3):
        engine.run(failing())
    settings = engine.cs.breaker
    later = utcnow() + dt.timedelta(minutes=11)
    assert breaker.check(cache.engine, "sis", settings, later).state == "half-open"
    started = utcnow()
    assert engine.run(failing()).breaker == "open"
    view = breaker.check(cache.engine, "sis", settings)
    assert view.failures == 4
    assert view.open_until is not None and view.open_until >= started + dt.timedelta(minutes=20)


def test_a_successful_run_closes_the_breaker(setup) -> None:
    cache, engine = setup
    for _ in range(4):
        engine.run(failing())
    assert engine.run(ListConnector("sis", family(120))).status == "published"
    view = breaker.check(cache.engine, "sis", engine.cs.breaker)
    assert (view.state, view.failures, view.open_until) == ("closed", 0, None)


def test_a_held_run_closes_the_breaker_because_the_source_answered(setup) -> None:
    cache, engine = setup
    engine.run(ListConnector("sis", family(120)))
    for _ in range(3):
        engine.run(failing())
    data = family(120)
    data["students"] = data["students"][:10]
    assert engine.run(ListConnector("sis", data)).status == "held"
    assert breaker.check(cache.engine, "sis", engine.cs.breaker).state == "closed"


def test_the_cooldown_doubles_per_failed_probe_up_to_its_ceiling() -> None:
    s = Breaker(failures=3, cooldown=dt.timedelta(minutes=10), max_cooldown=dt.timedelta(minutes=30))
    rests = [breaker.cooldown_for(n, s) for n in range(3, 8)]
    assert [r.total_seconds() / 60 for r in rests] == [10, 20, 30, 30, 30]
    assert breaker.cooldown_for(10_000, s) == dt.timedelta(minutes=30)
