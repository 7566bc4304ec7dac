"""Prometheus metrics come from the run history and source state, with no personal data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from cache.db import make_engine
from cache.store import open_cache
from gateway.ops.metrics import make_registry
from gateway.sync.engine import SyncEngine
from gateway.sync.metrics import SyncCollector
from tests.support.config import make_config
from tests.support.connectors import ListConnector
from tests.support.records import family


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.fixture
def cache(tmp_path: Path, db_url: str):
    config, secrets = make_config(tmp_path, db_url)
    c = open_cache(config, secrets)
    yield c
    c.dispose()


def test_a_scrape_reports_last_success_duration_records_failures_breaker_and_staleness(cache) -> None:
    engine = SyncEngine(cache.engine, cache.keyring, cache.config, cache.config.connectors[0])
    ok = engine.run(ListConnector("sis", family(30)))
    bad = ListConnector("sis", family(30))
    bad.fail_in = "contacts"
    bad.page_size = 10
    assert engine.run(bad).status == "failed"
    text = generate_latest(make_registry(SyncCollector(cache.engine, cache.config))).decode()
    got = samples(text)
    sis = (("connector", "sis"),)
    assert got[("portico_cache_up", ())] == 1
    assert got[("portico_sync_last_success_timestamp_seconds", sis)] > 1.7e9
    assert got[("portico_sync_stale", sis)] == 0
    assert got[("portico_sync_failures_total", sis)] == 1
    assert got[("portico_sync_runs_total", (("connector", "sis"), ("status", "published")))] == 1
    assert got[("portico_sync_consecutive_failures", sis)] == 1
    assert got[("portico_sync_breaker_state", (("connector", "sis"), ("state", "closed")))] == 1
    assert got[("portico_sync_breaker_state", (("connector", "sis"), ("state", "open")))] == 0
    # the last finished run is the failed one: it read every student before failing
    assert got[("portico_sync_last_run_records", (("connector", "sis"), ("kind", "student")))] == 30
    assert got[("portico_sync_last_run_duration_seconds", sis)] >= 0
    assert ok.run_id is not None
    for secret in ("First1", "Last1", "example.org", "00001"):
        assert secret not in text


def test_a_snapshot_older_than_stale_after_is_reported_stale(tmp_path: Path, sqlite_url: str) -> None:
    config, secrets = make_config(tmp_path, sqlite_url)
    config = config.model_copy(
        update={"cache": config.cache.model_copy(update={"stale_after": dt.timedelta(0)})}
    )
    cache = open_cache(config, secrets)
    SyncEngine(cache.engine, cache.keyring, config, config.connectors[0]).run(ListConnector("sis", family(5)))
    got = samples(generate_latest(make_registry(SyncCollector(cache.engine, cache.config))).decode())
    assert got[("portico_sync_stale", (("connector", "sis"),))] == 1
    cache.dispose()


def test_an_unreachable_cache_database_is_reported_not_raised(tmp_path: Path, sqlite_url: str) -> None:
    config, _ = make_config(tmp_path, sqlite_url)
    dead = make_engine("postgresql://portico@127.0.0.1:1/none", connect_args={"connect_timeout": 1})
    text = generate_latest(_registry(SyncCollector(dead, config))).decode()
    assert samples(text) == {("portico_cache_up", ()): 0}


def _registry(collector: SyncCollector):
    from prometheus_client import CollectorRegistry

    reg = CollectorRegistry(auto_describe=False)
    reg.register(collector)
    return reg
