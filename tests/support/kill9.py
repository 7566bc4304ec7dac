"""kill -9 at random points of `portico sync`, repeated; then check the cache is whole.

Used by ``tests/integration/test_kill9.py`` (30 kills) and ``scripts/kill9`` (200). Each round
forks a child that runs the real ``portico sync`` command (forking a process that has
already imported everything saves the interpreter start-up per round), then SIGKILLs
it at a random instant within the measured length of a sync. The source alternates
between two versions with different student counts, so a reader that ever saw a mix
of two snapshots would count a number that is neither. A reader process checks this
throughout, in read transactions as the API makes them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.clock import wait_until
from tests.support.fake_source import install, write_config, write_state

VERSIONS = {"a": 200, "b": 220}

SNAPSHOT_COUNTS = """
SELECT s.published_run,
  (SELECT count(*) FROM record r WHERE r.source = s.source AND r.kind = :kind
     AND r.valid_from <= s.published_run AND (r.valid_to IS NULL OR r.valid_to > s.published_run))
FROM source_state s WHERE s.source = 'sis' AND s.published_run IS NOT NULL
"""


@dataclass
class Report:
    kills: int = 0
    interrupted: int = 0  # killed before publishing: the next run found a 'running' run
    published_before_kill: int = 0
    reads: int = 0
    bad_reads: list[str] = field(default_factory=list)
    integrity_failures: list[str] = field(default_factory=list)
    final_status: str = ""
    final_output: str = ""
    sync_seconds: float = 0.0


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def snapshot(conn: sqlite3.Connection) -> tuple[int, int, int] | None:
    """(run, students, links) of the published snapshot, read in one read transaction."""
    conn.execute("BEGIN")
    try:
        s = conn.execute(SNAPSHOT_COUNTS.replace(":kind", "'student'")).fetchone()
        link = conn.execute(SNAPSHOT_COUNTS.replace(":kind", "'link'")).fetchone()
    finally:
        conn.execute("COMMIT")
    if s is None or link is None:
        return None
    return int(s[0]), int(s[1]), int(link[1])


def read_until(db: Path, stop: Path) -> dict[str, object]:
    """Reader process: read the published snapshot in a loop until ``stop`` exists."""
    reads, bad = 0, []
    conn = sqlite3.connect(db, isolation_level=None, timeout=30)
    while not stop.exists():
        got = snapshot(conn)
        if got is not None:
            reads += 1
            _run, students, links = got
            if students not in VERSIONS.values() or links != students:
                bad.append(f"run {_run}: {students} students, {links} links")
        time.sleep(0.002)
    return {"reads": reads, "bad": bad[:20]}


def portico_child(config: Path, *args: str, output: Path | None = None) -> int:
    """Fork a child running ``portico --config CONFIG ARGS``; its output goes to ``output``
    (or /dev/null). Its pid: :func:`wait` for its exit code, or SIGKILL it."""
    pid = os.fork()
    if pid:
        return pid
    code = 70
    try:
        out = os.open(output or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, 1)
        os.dup2(out, 2)
        from gateway.cli import main

        main.main(args=["--config", str(config), *args], standalone_mode=False)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os._exit(code)


def sync_child(config: Path, output: Path | None = None) -> int:
    """Fork a child running `portico sync`."""
    return portico_child(config, "sync", output=output)


def last_run(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        try:
            return int(conn.execute("SELECT coalesce(max(id), 0) FROM sync_run").fetchone()[0])
        except sqlite3.OperationalError:  # no schema yet
            return 0


def wait_for_run(db: Path, after: int, limit: float = 30.0) -> float:
    """Wait until a run newer than ``after`` exists; returns the monotonic time it was seen."""
    wait_until(lambda: last_run(db) > after, limit, "a sync run starting")
    return time.monotonic()


def wait(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def run_statuses(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return dict(
            conn.execute("SELECT coalesce(error_class, status), count(*) FROM sync_run GROUP BY 1").fetchall()
        )


def kill_loop(workdir: Path, rounds: int, seed: int = 0) -> Report:
    install()
    # Imported here, before forking, so no child pays for it.
    import gateway.cli  # noqa: F401

    rng = random.Random(seed)
    db = workdir / "cache.db"
    state = workdir / "source.json"
    config = write_config(
        workdir, f"sqlite:///{db}", options={"state_file": str(state), "page_size": 20, "page_delay": 0.005}
    )
    report = Report()
    write_state(state, VERSIONS["a"], "a")
    pid = sync_child(config)
    t0 = wait_for_run(db, 0)
    assert wait(pid) == 0, "the first sync did not publish"
    report.sync_seconds = time.monotonic() - t0
    stop = workdir / "stop-reader"
    reader = subprocess.Popen(
        [sys.executable, "-m", "tests.support.kill9", "--read", str(db), "--stop", str(stop)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        for i in range(rounds):
            version = "b" if i % 2 == 0 else "a"
            write_state(state, VERSIONS[version], version)
            last = last_run(db)
            pid = sync_child(config)
            if rng.random() < 0.2:
                time.sleep(rng.uniform(0, 0.5))  # while it starts up
            else:
                wait_for_run(db, last)  # once its run exists: anywhere in the sync
                time.sleep(rng.uniform(0, report.sync_seconds))
            os.kill(pid, signal.SIGKILL)
            code = wait(pid)
            report.kills += 1
            if code == 0:
                report.published_before_kill += 1
            check = integrity(db)
            if check != "ok":
                report.integrity_failures.append(f"round {i}: {check}")
        write_state(state, VERSIONS["a"], "a")
        final_log = workdir / "final-sync.log"
        code = wait(sync_child(config, final_log))
        report.final_status = "published" if code == 0 else f"exit {code}"
        if code:
            report.final_output = final_log.read_text()[-2000:]
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=60)
    seen = json.loads(out)
    report.reads = int(seen["reads"])
    report.bad_reads = list(seen["bad"])
    report.interrupted = run_statuses(db).get("Interrupted", 0)
    check = integrity(db)
    if check != "ok":
        report.integrity_failures.append(f"final: {check}")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--read", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--stop", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.read:
        print(json.dumps(read_until(args.read, args.stop)))
        return
    import tempfile

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        t0 = time.monotonic()
        report = kill_loop(Path(tmp).resolve(), args.runs, args.seed)
        print(json.dumps(report.__dict__, indent=2))
        print(f"{args.runs} kills in {time.monotonic() - t0:.0f}s", file=sys.stderr)
    ok = not report.bad_reads and not report.integrity_failures and report.final_status == "published"
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
