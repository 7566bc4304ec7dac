"""The keyring's in-memory keys: what a request on the serving loop may use without a read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.support.world import World, privacy_world


@pytest.fixture
def world(tmp_path: Path, sqlite_url: str):
    w = privacy_world(tmp_path, sqlite_url, students=12)
    yield w
    w.cache.dispose()


class _DroppedAfterFirstLook(dict[str, Any]):
    """A key map whose key a worker thread drops right after the first look (``_touch``
    pops and puts back; the least-recently-used trim drops): every later look misses."""

    def get(self, key: str, default: Any = None) -> Any:
        found = super().get(key, default)
        self.pop(key, None)
        return found


def test_a_key_held_when_looked_for_gives_its_cipher_without_a_keystore_read(world: World) -> None:
    keyring = world.cache.keyring
    with world.cache.engine.connect() as conn:
        key_id = conn.execute(text("SELECT key_id FROM record WHERE kind = 'student' LIMIT 1")).scalar_one()
    keyring.sealer(key_id)  # in memory: its raw key and its cipher
    raw = keyring._raw[key_id]
    keyring._sealers.clear()
    keyring._raw = _DroppedAfterFirstLook({key_id: raw})

    def no_read(key: str) -> bytes:
        raise AssertionError("the keystore was read: a round trip on the serving loop")

    keyring._raw_key = no_read  # type: ignore[method-assign]
    held = keyring.sealer_held(key_id)
    assert held is not None and held is keyring._sealers[key_id]
    assert keyring.sealer_held("dk_not_in_memory") is None
