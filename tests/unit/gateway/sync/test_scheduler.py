"""The scheduler: one job per scheduled connector, blackouts and breaker respected, runs coalesce."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from cache.store import open_cache
from config.loader import load
from gateway.bootstrap import build_application
from gateway.sync import breaker
from gateway.sync.engine import SyncOutcome
from gateway.sync.scheduler import SyncScheduler
from tests.support.clock import utc, wait_until
from tests.support.config import make_config
from tests.support.fake_source import install, write_config, write_state

SCHEDULED = [
    {
        "name": "sis",
        "type": "powerschool",
        "schedule": {"interval": "PT1M", "blackout": [{"from_date": "07-01", "to_date": "08-15"}]},
    },
    {"name": "csv", "type": "cloudschool", "schedule": {"cron": "0 6 * * 1-5", "misfire_grace": "PT5M"}},
    {"name": "off", "type": "cloudschool", "enabled": False, "schedule": {"interval": "PT1M"}},
    {"name": "manual", "type": "cloudschool"},
]


class Recorder:
    def __init__(self, status: str = "published") -> None:
        self.calls: list[str] = []
        self.status = status
        self.event = threading.Event()

    def __call__(self, name: str) -> SyncOutcome:
        self.calls.append(name)
        self.event.set()
        return SyncOutcome(name, 1, self.status)


@pytest.fixture
def cache(tmp_path: Path, sqlite_url: str):
    config, secrets = make_config(tmp_path, sqlite_url, connectors=SCHEDULED)
    c = open_cache(config, secrets)
    yield c
    c.dispose()


def test_each_enabled_scheduled_connector_gets_one_coalescing_exclusive_job(cache) -> None:
    sched = SyncScheduler(cache, Recorder())
    assert sorted(sched.job_ids) == ["sync:csv", "sync:sis"]
    csv = sched.scheduler.get_job("sync:csv")
    assert (csv.coalesce, csv.max_instances, csv.misfire_grace_time) == (True, 1, 300)
    assert str(csv.trigger.timezone) == "America/New_York"


def test_a_tick_inside_a_blackout_skips_the_run(cache) -> None:
    runner = Recorder()
    in_summer = SyncScheduler(cache, runner, clock=lambda: utc(2026, 7, 20))
    assert in_summer.tick("sis") == "blackout"
    assert runner.calls == []
    in_autumn = SyncScheduler(cache, runner, clock=lambda: utc(2026, 9, 20))
    assert in_autumn.tick("sis") == "published"
    assert runner.calls == ["sis"]


def test_an_open_breaker_skips_scheduled_runs_until_its_cooldown_ends_then_lets_a_probe_through(
    cache,
) -> None:
    now = dt.datetime.now(dt.UTC)
    with cache.engine.begin() as conn:
        for _ in range(3):
            breaker.record_failure(conn, "sis", cache.config.connector("sis").breaker, now)
    runner = Recorder()
    assert (
        SyncScheduler(cache, runner, clock=lambda: now + dt.timedelta(minutes=5)).tick("sis")
        == "breaker-open"
    )
    assert runner.calls == []
    probe = SyncScheduler(cache, runner, clock=lambda: now + dt.timedelta(minutes=31))
    assert probe.tick("sis") == "published"
    assert runner.calls == ["sis"]


def test_a_crashing_run_is_logged_and_the_scheduler_carries_on(cache) -> None:
    def boom(name: str) -> SyncOutcome:
        raise RuntimeError("connector could not be built")

    sched = SyncScheduler(cache, boom, clock=lambda: utc(2026, 9, 1))
    assert sched.tick("sis") == "error"


def test_runs_missed_while_the_scheduler_was_down_coalesce_into_one(cache) -> None:
    runner = Recorder()
    sched = SyncScheduler(
        cache, runner, scheduler=BackgroundScheduler(timezone=dt.UTC), clock=lambda: utc(2026, 9, 1)
    )
    sched.scheduler.start(paused=True)
    try:
        # 59 one-minute runs were due while nothing ran; all within the grace period.
        sched.scheduler.modify_job(
            "sync:sis", next_run_time=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=59)
        )
        sched.scheduler.remove_job("sync:csv")
        sched.scheduler.resume()
        assert runner.event.wait(5)
        # The missed runs are used up once the job's next run is in the future again.
        wait_until(
            lambda: sched.scheduler.get_job("sync:sis").next_run_time > dt.datetime.now(dt.UTC),
            what="the job rescheduled",
        )
    finally:
        sched.shutdown()
    assert runner.calls == ["sis"]


def test_two_runs_of_one_connector_at_once_give_one_sync_and_one_skip(
    tmp_path: Path, sqlite_url: str
) -> None:
    install()
    write_state(tmp_path / "source.json", students=100)
    path = write_config(
        tmp_path,
        sqlite_url,
        options={"state_file": str(tmp_path / "source.json"), "page_size": 10, "page_delay": 0.05},
    )
    loaded = load(str(path))
    app = build_application(loaded.config, base_dir=tmp_path)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(app.sync("sis").status)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    app.dispose()
    assert sorted(results) == ["published", "skipped"]
