"""Prometheus metrics: the registry ``/metrics`` serves, from collectors the bootstrap chooses.

Collectors read on scrape rather than count in-process where they can, so every process
(API replicas, workers) exports the same figures. Labels are names, statuses, kinds and
route templates only: never record contents, ids or addresses.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from gateway.ops.mail import MAIL_KINDS, mail_counts

# Why the edge refused a request before the application read it.
REFUSAL_REASONS = ("url", "header-count", "header-bytes", "body", "content-length")
# Why a sign-in failed, and why one was turned away before the password was checked.
SIGN_IN_FAILURES = ("unknown-user", "wrong-password", "inactive", "wrong-code")
SIGN_IN_THROTTLES = ("too-many-failures", "too-many-codes")
SIGN_IN_CHANNELS = ("api", "web")
# Why a data request begun on the event loop was served again on a worker thread (on
# PostgreSQL, gateway.api.routing): it needed a synchronous connection (a shared record's
# first read in a snapshot, a session to touch, a denied read to count, a data key not in
# memory), it came with a family token (resolved and throttled on a worker thread, every
# one), or the loop's connection to the database was lost.
HANDOVER_REASONS = ("would_block", "family_token", "connection_lost")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# The ``le`` labels as prometheus_client writes them (floatToGoString: "0.005", "1.0").
_BUCKET_NAMES = (*(str(b) for b in LATENCY_BUCKETS), "+Inf")


class _RouteStats:
    """One route template and method's answers: counts by status, and the latency
    histogram's buckets (not cumulative: ``buckets[i]`` counts the answers in bucket i
    alone, the last over every bound), with the sum, and when each series began."""

    __slots__ = ("buckets", "created", "status_created", "statuses", "total")

    def __init__(self, now: float) -> None:
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.total = 0.0
        self.statuses: dict[str, int] = {}
        self.status_created: dict[str, float] = {}
        self.created = now


def make_registry(*collectors: Collector) -> CollectorRegistry:
    """A registry holding only Portico's own collectors (no process or platform defaults)."""
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    return registry


class MailCollector(Collector):
    """Mail handed to the backend and mail that failed, by kind, from every process that
    sends (read from the cache on each scrape, like the sync figures)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        try:
            counts = mail_counts(self.engine)
        except SQLAlchemyError:
            return  # portico_cache_up says so
        for outcome, text in (
            ("sent", "Messages handed to the mail backend"),
            ("failed", "Messages the mail backend refused"),
        ):
            family = CounterMetricFamily(f"portico_mail_{outcome}", f"{text}, by kind", labels=["kind"])
            for kind in MAIL_KINDS:
                family.add_metric([kind], counts.get((kind, outcome), 0))
            yield family


# RFC 9110's methods: the ``method`` label's values (anything else is ``other``).
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})


class GuardCounters(Collector):
    """What the API process saw: requests and their latency by route template, requests
    refused at the edge (by reason), answers of 429 (by route template), and sign-in
    failures and throttles (by channel and reason; never a username), and data requests
    begun on the event loop and handed over to a worker thread (by reason).

    Counted in the process that answered (a refusal never reaches the database): each
    API replica exports its own, and Prometheus sums them.
    """

    def __init__(self, routes: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self.refused: Counter[str] = Counter({reason: 0 for reason in REFUSAL_REASONS})
        self.throttled: Counter[str] = Counter({route: 0 for route in routes})
        zero = {(c, r): 0 for c in SIGN_IN_CHANNELS for r in SIGN_IN_FAILURES}
        self.sign_in_failed: Counter[tuple[str, str]] = Counter(zero)
        zero = {(c, r): 0 for c in SIGN_IN_CHANNELS for r in SIGN_IN_THROTTLES}
        self.sign_in_throttled: Counter[tuple[str, str]] = Counter(zero)
        self.handed_over: Counter[str] = Counter({reason: 0 for reason in HANDOVER_REASONS})
        # By (route template, method): the route template ("-" when no route matched),
        # never the path itself. Counted here, under one lock, and exposed on scrape as
        # prometheus_client's Counter and Histogram would expose them: a labelled
        # prometheus_client metric costs two ``labels()`` look-ups and a lock per value on
        # every request, three times what this does (docs/PERFORMANCE-api-notes.md).
        self._routes: dict[tuple[str, str], _RouteStats] = {}

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One answered request; ``route`` is its template (``/v1/students/{student_id}``).
        A method outside HTTP's own is counted as ``other``: the client chooses the method,
        and each new label value would be a new series kept for the life of the process."""
        if method not in HTTP_METHODS:
            method = "other"
        code = str(status)
        with self._lock:
            stats = self._routes.get((route, method))
            if stats is None:
                stats = self._routes[(route, method)] = _RouteStats(time.time())
            # A bound is inclusive (le): the first bound at or above the value.
            stats.buckets[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
            stats.total += seconds
            count = stats.statuses.get(code)
            if count is None:
                stats.status_created[code] = time.time()
                count = 0
            stats.statuses[code] = count + 1

    def sign_in_failure(self, channel: str, reason: str) -> None:
        with self._lock:
            self.sign_in_failed[(channel, reason)] += 1

    def sign_in_throttle(self, channel: str, reason: str) -> None:
        with self._lock:
            self.sign_in_throttled[(channel, reason)] += 1

    def hand_over(self, reason: str) -> None:
        with self._lock:
            self.handed_over[reason] += 1

    def refuse(self, reason: str) -> None:
        with self._lock:
            self.refused[reason] += 1

    def throttle(self, route: str) -> None:
        with self._lock:
            self.throttled[route] += 1

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            refused, throttled = dict(self.refused), dict(self.throttled)
            failed, turned_away = dict(self.sign_in_failed), dict(self.sign_in_throttled)
            handed = dict(self.handed_over)
            routes = [
                (key, list(st.buckets), st.total, dict(st.statuses), dict(st.status_created), st.created)
                for key, st in self._routes.items()
            ]
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
        f = CounterMetricFamily(
            "portico_sign_in_failures",
            "Sign-ins refused, by channel and reason",
            labels=["channel", "reason"],
        )
        for (channel, reason), n in sorted(failed.items()):
            f.add_metric([channel, reason], n)
        yield f
        th = CounterMetricFamily(
            "portico_sign_in_throttled",
            "Sign-ins turned away by a throttle before the password was checked, by channel and reason",
            labels=["channel", "reason"],
        )
        for (channel, reason), n in sorted(turned_away.items()):
            th.add_metric([channel, reason], n)
        yield th
        h = CounterMetricFamily(
            "portico_loop_handovers",
            "Data requests begun on the event loop and served again on a worker thread, by reason",
            labels=["reason"],
        )
        for reason, n in sorted(handed.items()):
            h.add_metric([reason], n)
        yield h
        answered = CounterMetricFamily(
            "portico_http_requests",
            "Requests answered, by route template, method and status",
            labels=["route", "method", "status"],
        )
        latency = HistogramMetricFamily(
            "portico_http_request_duration_seconds",
            "Time to answer a request, by route template and method",
            labels=["route", "method"],
        )
        for (route, method), buckets, total, statuses, status_created, created in routes:
            for code, n in statuses.items():
                answered.add_metric([route, method, code], n, created=status_created[code])
            cumulative, running = [], 0
            for name, n in zip(_BUCKET_NAMES, buckets, strict=True):
                running += n
                cumulative.append((name, float(running)))
            latency.add_metric([route, method], cumulative, total)
            latency.samples.append(
                Sample(latency.name + "_created", {"route": route, "method": method}, created)
            )
        yield answered
        yield latency
