"""Prometheus metrics: the registry ``/metrics`` serves, from collectors the bootstrap chooses.

Collectors read on scrape rather than count in-process where they can, so every process
(API replicas, workers) exports the same figures. Labels are names, statuses, kinds and
route templates only: never record contents, ids or addresses.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.registry import Collector


def make_registry(*collectors: Collector) -> CollectorRegistry:
    """A registry holding only Portico's own collectors (no process or platform defaults)."""
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    return registry
