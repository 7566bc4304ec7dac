"""The alert outbox on ``/metrics``: read from the database on each scrape, so every
process exports the same figures whoever sent. Labels are statuses only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from cache.types import utcnow
from gateway.alerts.sender import stats

STATUSES = ("pending", "sent", "failed", "dropped")


class AlertCollector(Collector):
    def __init__(self, engine: Engine, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.engine, self.clock = engine, clock

    def collect(self) -> Iterator[Metric]:
        try:
            now = self.clock()
            with self.engine.connect() as conn:
                found = stats(conn, now)
        except SQLAlchemyError:
            return
        rows = GaugeMetricFamily("portico_alerts", "Alerts in the outbox, by status", labels=["status"])
        for status in STATUSES:
            rows.add_metric([status], found.by_status.get(status, 0))
        yield rows
        yield GaugeMetricFamily(
            "portico_alerts_retrying",
            "Alerts waiting to be sent again after an SMTP failure",
            value=found.retrying,
        )
        yield GaugeMetricFamily(
            "portico_alerts_news",
            "News of publishes not yet expanded into the outbox (one per record and alert kind)",
            value=found.news,
        )
        lag = 0.0 if found.oldest_due is None else max(0.0, (now - found.oldest_due).total_seconds())
        yield GaugeMetricFamily(
            "portico_alerts_oldest_due_seconds",
            "How long the oldest due alert has waited to be sent",
            value=lag,
        )
