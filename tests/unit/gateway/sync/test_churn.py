"""A full read whose ids differ on a second read is retried, never published shifted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from cache.store import open_cache
from connectors.base import Page
from gateway.sync import breaker
from gateway.sync.engine import CHANGE_RETRIES, SyncEngine
from tests.support.config import make_config
from tests.support.connectors import ListConnector
from tests.support.records import family, student


class Churning(ListConnector):
    """Each read of ``students`` swaps in a different last student, as a source mid-edit would."""

    def __init__(self, settle_after: int | None) -> None:
        super().__init__("sis", family(40))
        self.reads = 0
        self.settle_after = settle_after

    def read(self, stream: str, state: str | None, *, full: bool = False) -> Iterator[Page]:
        if stream == "students":
            self.reads += 1
            if self.settle_after is None or self.reads <= self.settle_after:
                self.data["students"][-1] = student(1000 + self.reads)
        yield from super().read(stream, state, full=full)


def test_a_source_that_settles_is_retried_and_published_whole(tmp_path: Path, sqlite_url: str) -> None:
    config, secrets = make_config(tmp_path, sqlite_url)
    cache = open_cache(config, secrets)
    engine = SyncEngine(cache.engine, cache.keyring, config, config.connectors[0])
    source = Churning(settle_after=2)
    out = engine.run(source)
    cache.dispose()
    assert out.status == "published"
    assert out.counts["student"]["added"] == 40
    # read 1 and 2 differ (retry), read 3 and 4 agree (publish)
    assert source.reads == 4


def test_a_source_that_keeps_changing_fails_the_run_without_tripping_the_breaker(
    tmp_path: Path, sqlite_url: str
) -> None:
    config, secrets = make_config(tmp_path, sqlite_url)
    cache = open_cache(config, secrets)
    engine = SyncEngine(cache.engine, cache.keyring, config, config.connectors[0])
    source = Churning(settle_after=None)
    out = engine.run(source)
    view = breaker.check(cache.engine, "sis", config.connectors[0].breaker)
    cache.dispose()
    assert (out.status, out.error_class) == ("failed", "SourceChangedError")
    assert "stream students changed while it was read in full" in (out.error or "")
    assert source.reads == 2 * (CHANGE_RETRIES + 1)
    assert view.failures == 0
