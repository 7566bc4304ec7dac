"""Prometheus metrics: the registry ``/metrics`` serves, from collectors the bootstrap chooses.

Collectors read on scrape rather than count in-process where they can, so every process
(API replicas, workers) exports the same figures. Labels are names, statuses, kinds and
route templates only: never record contents, ids or addresses.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

# Why the edge refused a request before the application read it.
REFUSAL_REASONS = ("url", "header-count", "header-bytes", "body", "content-length")


def make_registry(*collectors: Collector) -> CollectorRegistry:
    """A registry holding only Portico's own collectors (no process or platform defaults)."""
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    return registry


class GuardCounters(Collector):
    """Requests refused at the edge (by reason) and answers of 429 (by route template).

    Counted in the process that answered (a refusal never reaches the database): each
    API replica exports its own, and Prometheus sums them.
    """

    def __init__(self, routes: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self.refused: Counter[str] = Counter({reason: 0 for reason in REFUSAL_REASONS})
        self.throttled: Counter[str] = Counter({route: 0 for route in routes})

    def refuse(self, reason: str) -> None:
        with self._lock:
            self.refused[reason] += 1

    def throttle(self, route: str) -> None:
        with self._lock:
            self.throttled[route] += 1

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            refused, throttled = dict(self.refused), dict(self.throttled)
        r = CounterMetricFamily(
            "portico_requests_refused",
            "Requests refused at the edge before the application read them (413, 414, 431, 400)",
            labels=["reason"],
        )
        for reason, n in sorted(refused.items()):
            r.add_metric([reason], n)
        yield r
        t = CounterMetricFamily(
            "portico_throttled", "Requests answered 429 by a throttle, by route template", labels=["route"]
        )
        for route, n in sorted(throttled.items()):
            t.add_metric([route], n)
        yield t
