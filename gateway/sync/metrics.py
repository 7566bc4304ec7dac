"""Prometheus metrics for syncs, read from the run history and source state on each scrape.

Reading on scrape (a custom collector) rather than counting in-process means every
process (API replicas, workers) exports the same figures, whoever ran the sync.
Labels are connector names, statuses and record kinds only: never record contents.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from cache.snapshots.runs import RUNS, all_states, is_stale
from cache.tables.records import SyncRun
from cache.types import utcnow
from config.settings import PorticoConfig
from gateway.sync import breaker
from gateway.sync.engine import STAGES

_FINISHED = ("published", "held", "failed", "discarded", "superseded", "unchanged")


def _last_finished(engine: Engine, source: str) -> SyncRun | None:
    q = (
        select(RUNS)
        .where(RUNS.c.source == source, RUNS.c.status.in_(_FINISHED), RUNS.c.finished_at.is_not(None))
        .order_by(RUNS.c.id.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(q).mappings().first()
    return SyncRun(**row) if row else None


class SyncCollector(Collector):
    def __init__(self, engine: Engine, config: PorticoConfig) -> None:
        self.engine = engine
        self.config = config

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("portico_cache_up", "1 when the cache database answered this scrape")
        try:
            metrics = list(self._collect())
        except SQLAlchemyError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from metrics

    def _collect(self) -> Iterator[Metric]:
        L = ["connector"]
        last_ok = GaugeMetricFamily(
            "portico_sync_last_success_timestamp_seconds", "When the published snapshot was synced", labels=L
        )
        age = GaugeMetricFamily(
            "portico_sync_snapshot_age_seconds", "Age of the published snapshot", labels=L
        )
        stale = GaugeMetricFamily(
            "portico_sync_stale", "1 when the snapshot is older than stale_after", labels=L
        )
        duration = GaugeMetricFamily(
            "portico_sync_last_run_duration_seconds", "Duration of the last finished run", labels=L
        )
        records = GaugeMetricFamily(
            "portico_sync_last_run_records", "Records read by the last finished run", labels=[*L, "kind"]
        )
        retries = GaugeMetricFamily(
            "portico_sync_last_run_retries", "Retries in the last finished run", labels=L
        )
        stages = GaugeMetricFamily(
            "portico_sync_last_run_stage_seconds",
            "Seconds the last finished run spent in each stage (fetch, stage, guards, publish, hooks)",
            labels=[*L, "stage"],
        )
        consecutive = GaugeMetricFamily("portico_sync_consecutive_failures", "Failed runs in a row", labels=L)
        brk = GaugeMetricFamily(
            "portico_sync_breaker_state", "Circuit breaker: 1 for the current state", labels=[*L, "state"]
        )
        runs = CounterMetricFamily(
            "portico_sync_runs", "Finished sync runs by outcome", labels=[*L, "status"]
        )
        failures = CounterMetricFamily("portico_sync_failures", "Failed sync runs", labels=L)

        now = utcnow()
        with self.engine.connect() as conn:
            states = {s.source: s for s in all_states(conn)}
            by_status = conn.execute(
                select(RUNS.c.source, RUNS.c.status, func.count()).group_by(RUNS.c.source, RUNS.c.status)
            ).all()
        tally: dict[str, dict[str, int]] = {}
        for source, status, n in by_status:
            tally.setdefault(source, {})[status] = int(n)

        for cs in self.config.connectors:
            name = cs.name
            st = states.get(name)
            if st is not None and st.synced_at is not None:
                last_ok.add_metric([name], st.synced_at.timestamp())
                age.add_metric([name], (now - st.synced_at).total_seconds())
            stale.add_metric([name], float(is_stale(st, self.config.cache.stale_after, now)))
            consecutive.add_metric([name], st.consecutive_failures if st else 0)
            current = breaker.view(st, cs.breaker, now).state
            for state in ("closed", "open", "half-open"):
                brk.add_metric([name, state], float(state == current))
            counts = tally.get(name, {})
            for status in _FINISHED:
                runs.add_metric([name, status], counts.get(status, 0))
            failures.add_metric([name], counts.get("failed", 0))
            last = _last_finished(self.engine, name)
            if last is not None and last.finished_at is not None:
                duration.add_metric([name], (last.finished_at - last.started_at).total_seconds())
                retries.add_metric([name], last.retries)
                for stage in STAGES:
                    if stage in (last.stages or {}):
                        stages.add_metric([name, stage], float((last.stages or {})[stage]))
                for kind, c in sorted((last.counts or {}).items()):
                    records.add_metric(
                        [name, kind], c.get("added", 0) + c.get("changed", 0) + c.get("unchanged", 0)
                    )
        yield from (last_ok, age, stale, duration, stages, records, retries, consecutive, brk, runs, failures)
