"""`portico status --json` for scripts, and `portico backup` with a restore read back
through the normal reader."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cache.read.reader import Reader
from cache.snapshots.runs import load_state
from cache.store import open_cache
from config.loader import load
from config.secrets import SecretResolver
from gateway.cli import main
from tests.support.fake_source import install, write_config, write_state
from tests.support.snapshots import published_refs


@pytest.fixture
def portico(tmp_path: Path, sqlite_url: str):
    install()
    path = write_config(tmp_path, sqlite_url)

    def run(*args: str, students: int = 20, version: str = "a") -> Result:
        write_state(tmp_path / "source.json", students, version)
        return CliRunner(env={"COLUMNS": "250"}).invoke(main, ["--config", str(path), *args])

    run.path = path  # type: ignore[attr-defined]
    return run


def test_status_json_has_the_documented_shape(portico) -> None:
    before = portico("status", "--json")
    assert before.exit_code == 0, before.output
    doc = json.loads(before.output)
    assert doc["shape"] == 1 and doc["district"] == "Test District"
    (sis,) = doc["sources"]
    assert sis["published_run"] is None and sis["stale"] is True and sis["runs"] == []
    assert portico("sync").exit_code == 0
    doc = json.loads(portico("status", "--json", "--runs", "3").output)
    (sis,) = doc["sources"]
    assert set(sis) == {
        "name", "type", "enabled", "published_run", "synced_at", "as_of", "last_attempt_at", "stale",
        "consecutive_failures", "breaker", "runs",
    }  # fmt: skip
    assert sis["name"] == "sis" and sis["type"] == "fake" and sis["stale"] is False
    assert sis["breaker"] == {"state": "closed", "open_until": None}
    (run,) = sis["runs"]
    # family(20): 20 students, 20 contacts, 20 links (tests/support/records.py).
    assert run["status"] == "published" and run["records"] == 60
    assert run["started_at"].endswith("Z") and sis["synced_at"].endswith("Z")
    assert sis["published_run"] == run["id"]
    # Without --json: the table for people, unchanged.
    table = portico("status")
    assert table.exit_code == 0 and "snapshot of run" in table.output


def _students(path: Path) -> dict[str, Any]:
    loaded = load(path)
    cache = open_cache(loaded.config, SecretResolver(base_dir=loaded.base_dir))
    try:
        refs = published_refs(cache, "student")
        with cache.engine.connect() as conn:
            state = load_state(conn, "sis")
            assert state is not None and state.published_run is not None
            reader = Reader(conn, cache.keyring)
            found = {}
            for ref in refs:
                handle = reader.for_operator("sis", state.published_run, ref)
                assert handle is not None
                found[ref] = handle.data
            return found
    finally:
        cache.dispose()


def test_a_backup_restored_by_copying_it_back_reads_the_same_records(portico, tmp_path: Path) -> None:
    assert portico("sync").exit_code == 0
    before = _students(portico.path)
    assert len(before) == 20
    backups = tmp_path / "backups"
    made = portico("backup", "--out", str(backups / "cache.db"), "--keystore-out", str(backups / "keys.db"))
    assert made.exit_code == 0, made.output
    assert "cache: " in made.output and "keystore: " in made.output
    for name in ("cache.db", "keys.db"):
        assert (backups / name).stat().st_mode & 0o777 == 0o600
    again = portico("backup", "--out", str(backups / "cache.db"))
    assert again.exit_code == 2 and "exists; use --force" in again.output

    # The source changes and is synced: every student's record changes.
    assert portico("sync", version="b").exit_code == 0
    changed = _students(portico.path)
    assert changed.keys() == before.keys() and changed != before

    # Restore with Portico stopped: the files copied back, the old WAL and shared memory gone.
    for name in ("cache.db", "keys.db"):
        for suffix in ("-wal", "-shm"):
            (tmp_path / f"{name}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(backups / name, tmp_path / name)
    assert _students(portico.path) == before
    status = json.loads(portico("status", "--json").output)
    assert status["sources"][0]["runs"][0]["status"] == "published"


def test_backup_on_postgresql_refuses_and_says_how(tmp_path: Path) -> None:
    install()
    path = write_config(tmp_path, "postgresql://portico:pg-password@127.0.0.1:1/portico", migrate=False)
    result = CliRunner().invoke(main, ["--config", str(path), "backup", "--out", str(tmp_path / "x.db")])
    assert result.exit_code == 2
    assert "the cache is on PostgreSQL: back it up with PostgreSQL's own tool" in result.output
    assert (
        "pg_dump --format=custom --file=FILE 'postgresql://portico:***@127.0.0.1:1/portico'" in result.output
    )
    assert "pg-password" not in result.output
    assert not (tmp_path / "x.db").exists()
