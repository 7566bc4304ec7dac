"""Syncs: the engine, its schedule, circuit breaker and after-publish hooks."""
