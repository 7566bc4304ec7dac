"""Key rotation online: reads in another "process" never fail, and an old KEK goes only when unused."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from cache.keys.crypto import KekRing
from cache.keys.rotation import key_lines, rotate
from cache.read.reader import Principal, Reader
from cache.snapshots.runs import load_state
from cache.store import open_cache
from config.secrets import SecretResolver
from gateway.cli import main
from tests.support.clock import wait_until
from tests.support.world import World, privacy_world


@pytest.fixture
def world(tmp_path: Path, sqlite_url: str):
    w = privacy_world(tmp_path, sqlite_url, students=16)
    yield w
    w.cache.dispose()


def test_reads_continue_with_zero_failures_while_keys_rotate(world: World) -> None:
    key_file = world.tmp / "kek.key"
    first_kek = key_lines(key_file)[0].split()[0]
    # The API process: its own engines and keyring, loaded from the key file once.
    api = open_cache(world.config, SecretResolver(base_dir=world.tmp))
    mum = world.ref("contact", world.district.cases.split_household[1])
    principal = Principal("acc_test", "guardian", "sis", mum)
    stop = threading.Event()
    failures: list[str] = []
    reads, rounds = [0], [0]

    def hammer() -> None:
        while not stop.is_set():
            try:
                api.keyring.forget()  # drop unwrapped keys: every loop unwraps from the keystore again
                with api.engine.connect() as conn:
                    state = load_state(conn, "sis")
                    assert state is not None and state.published_run is not None
                    reader = Reader(conn, api.keyring)
                    students = reader.students(principal, state.published_run, world.district.today)
                    assert students
                    for s in students:
                        reads[0] += 1 + len(reader.records(s, "attendance", limit=20))
                rounds[0] += 1
            except Exception as exc:  # noqa: BLE001 - every failure is the finding
                failures.append(f"{type(exc).__name__}: {exc}")

    t = threading.Thread(target=hammer)
    t.start()
    try:
        wait_until(lambda: rounds[0] or failures, what="the reader's first round")
        results = [rotate(world.cache.keyring, key_file, settle_s=0.1) for _ in range(4)]
        rotated = rounds[0]
        # Two more whole rounds after the last rotation: reads under the new key only.
        wait_until(
            lambda: (rounds[0] >= rotated + 2 and reads[0] > 100) or failures, what="reads after rotating"
        )
    finally:
        stop.set()
        t.join()
        api.dispose()
    assert failures == []
    assert reads[0] > 100
    assert results[0].retired == [first_kek] and all(r.kept == {} for r in results)
    lines = key_lines(key_file)
    assert [ln.split()[0] for ln in lines] == [results[-1].new_kek]
    assert world.cache.keyring.kek_usage() == {results[-1].new_kek: results[-1].rewrapped}
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600


def test_an_old_kek_still_wrapping_a_data_key_is_kept(world: World) -> None:
    key_file = world.tmp / "kek.key"
    old = key_lines(key_file)[0]
    ring = world.cache.keyring
    real_rewrap = ring.rewrap_all
    ring.rewrap_all = lambda batch=500: 0  # type: ignore[method-assign]  # a rewrap that cannot finish
    try:
        result = rotate(ring, key_file, settle_s=0)
    finally:
        ring.rewrap_all = real_rewrap  # type: ignore[method-assign]
    assert result.retired == [] and result.kept[old.split()[0]] > 0
    assert key_lines(key_file) == [old, key_lines(key_file)[1]]
    KekRing.parse(key_file.read_text(), "key file")  # still a valid file


def test_the_keys_rotate_command_rotates_the_configured_key_file(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("connectors.registry.validate_connectors", lambda loaded: [])
    cfg = world.config_yaml()
    before = key_lines(world.tmp / "kek.key")
    r = CliRunner().invoke(main, ["--config", str(cfg), "keys", "rotate"])
    assert r.exit_code == 0, r.output
    after = key_lines(world.tmp / "kek.key")
    assert len(after) == 1 and after != before and "retired: kek-test" in r.output


def test_rotate_refuses_a_key_file_other_processes_do_not_read(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("connectors.registry.validate_connectors", lambda loaded: [])
    cfg = world.config_yaml()
    other = world.tmp / "other.key"
    other.write_text((world.tmp / "kek.key").read_text())
    r = CliRunner().invoke(main, ["--config", str(cfg), "keys", "rotate", "--key-file", str(other)])
    assert r.exit_code == 2 and "must be the file cache.kek names" in r.output
    assert key_lines(other) == key_lines(world.tmp / "kek.key")  # neither file was touched
