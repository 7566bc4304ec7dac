"""Alert detection alone, repeated on one saved run: CPU and instruction counts.

``scripts/bench_alerts`` times one detection per district it builds (minutes of set-up
for a fraction of a second measured, and on a shared machine its CPU varies by a third
from run to run). This builds the district and its 1%-changed run once, saves the cache
and the staged change set, then runs detection on that saved run as often as asked, each
time from an empty outbox:

  python scripts/bench_detect.py setup DIR --students 4000 --today 2026-09-25
  python scripts/bench_detect.py run DIR --repeat 5             # CPU: min and median
  python scripts/bench_detect.py run DIR --repeat 3 --instructions  # under callgrind
  python scripts/bench_detect.py run DIR --profile              # cProfile (CPU) of the last
  python scripts/bench_detect.py run DIR --detect-only ...      # without the sender's expansion

``--instructions`` counts only detection (callgrind is switched on around each call,
each call dumped apart): the figure does not depend on the machine's load. The first
call reads the cache cold; the later ones are the comparable figure.

The saved run is the code's that built it (the staging's change set is pickled), so
old and new code are compared on the same saved run: ``BENCH_TREE=<another checkout>``
runs that tree's detection (this script and bench_alerts.py from here).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_alerts as alerts_bench  # noqa: E402  (it puts its own tree first on the path)

sys.path.insert(0, os.environ.get("BENCH_TREE") or str(HERE.parent))


def application(workdir: Path, today: dt.date, upgrade: bool = False) -> tuple[Any, Any, dt.datetime]:
    from cache.db import keystore_url
    from cache.migrations import runner as migrations
    from cache.store import open_cache
    from config.secrets import SecretResolver
    from config.settings import PorticoConfig
    from gateway.bootstrap import build_application

    config = PorticoConfig.model_validate(
        {
            "district": {"name": "Bench", "timezone": "America/New_York"},
            "cache": {"url": f"sqlite:///{workdir / 'cache.db'}", "kek": {"file": str(workdir / "kek.key")}},
            "connectors": [{"name": "sis", "type": "powerschool", "options": {}}],
        }
    )
    if upgrade:
        migrations.upgrade(config.cache.url, keystore_url(config))
    now = dt.datetime.combine(today, dt.time(20, 0), dt.UTC)  # 15:00 in New York, as bench_alerts
    app = build_application(
        config, cache=open_cache(config, SecretResolver()), mailer=alerts_bench.Discard(), clock=lambda: now
    )
    return config, app, now


def loaded(
    workdir: Path, students: int, today: dt.date, change: float
) -> tuple[Any, Any, dt.datetime, list[str], dict[str, list[Any]]]:
    """The district of ``scripts/bench_alerts`` (same seed), loaded into a new cache in
    ``workdir`` (a first, full sync), and its edits picked as that benchmark picks them:
    the config, the application, its clock's instant, the stream names and the edits."""
    from cache.keys.crypto import new_kek_line
    from connectors.memory import MemoryConnector
    from simulators.district.synthetic import DistrictSpec, SyntheticDistrict

    workdir.mkdir(parents=True, exist_ok=True)
    spec = DistrictSpec(seed=5, schools=max(2, students // 1000), students=students, today=today)
    district = SyntheticDistrict(spec)
    (workdir / "kek.key").write_text(new_kek_line() + "\n")
    config, app, now = application(workdir, today, upgrade=True)
    streams = {kind: list(district.iter(kind)) for kind in district.kinds()}
    print(f"initial load of {sum(len(v) for v in streams.values()):,} records ...", flush=True)
    app.sync("sis", connector=MemoryConnector("sis", streams, page_size=2000), full=True)
    return config, app, now, list(streams), alerts_bench.pick_changes(streams, change)


def setup(workdir: Path, students: int, today: dt.date, change: float) -> None:
    """The district of ``scripts/bench_alerts`` (same seed, same edits), synced, the run's change set saved."""
    from sqlalchemy import text

    from gateway.alerts import detect
    from gateway.sync.engine import SyncEngine

    config, app, now, kinds, changed = loaded(workdir, students, today, change)
    with app.cache.engine.begin() as conn:
        conn.execute(
            text("UPDATE account SET status = 'active', aup_version = :v"), {"v": config.access.aup.version}
        )
    captured = alerts_bench.Captured(detect.after_publish(app.cache, config, lambda: now))
    hooks = [h for h in app.after_publish() if getattr(h, "__module__", "") != detect.__name__]
    engine = SyncEngine(
        app.cache.engine, app.cache.keyring, config, config.connectors[0], on_published=[*hooks, captured]
    )
    result = engine.run(alerts_bench.Changes("sis", kinds, changed))
    assert result.status == "published" and captured.changes is not None, result
    with (workdir / "run.pickle").open("wb") as f:
        pickle.dump((int(result.run_id or 0), captured.changes.versions, today), f)
    app.dispose()
    print(f"saved in {workdir}: run {result.run_id}, {len(captured.changes.versions):,} staged versions")


def callgrind(command: str) -> None:
    """Send callgrind (running this process) ``command``, and wait until it is done."""
    proc = subprocess.Popen(["callgrind_control", command, str(os.getpid())], stdout=subprocess.DEVNULL)  # noqa: S603, S607
    while proc.poll() is None:
        time.sleep(0.002)


def run(saved: Path, repeat: int, counted: bool, profile: bool, expand: bool = True) -> None:
    """Detection on a copy of the saved cache, ``repeat`` times from an empty outbox."""
    import cProfile
    import pstats

    from sqlalchemy import inspect, text

    from gateway.alerts import detect

    with (saved / "run.pickle").open("rb") as f:
        run_id, versions, today = pickle.load(f)  # noqa: S301 - our own file, just written by setup
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in ("cache.db", "cache-keys.db", "kek.key"):
            shutil.copy(saved / name, work / name)
        config, app, now = application(work, today, upgrade=True)  # a setup by older code: migrated
        changes = detect.after_publish(app.cache, config).watch()
        changes.versions = versions
        cpu: list[float] = []
        expand_cpu: list[float] = []
        found: Any = None
        expanded: Any = None
        prof = cProfile.Profile(time.process_time) if profile else None
        for i in range(repeat):
            with app.cache.engine.begin() as conn:
                conn.execute(text("DELETE FROM alert_outbox"))
                if inspect(conn).has_table("alert_news"):  # the news table (c0008; not in older code)
                    conn.execute(text("DELETE FROM alert_news"))
            if prof is not None and i == repeat - 1:
                prof.enable()
            if counted:
                callgrind("--instr=on")
            began = time.process_time()
            found = detect.detect(app.cache, config, "sis", run_id, now, changes)
            cpu.append(time.process_time() - began)
            if counted:
                callgrind("--instr=off")
                callgrind(f"--dump=detect{i}")
            if expand and hasattr(detect, "expand"):  # the news expanded into the outbox (the sender's step)
                if counted:
                    callgrind("--instr=on")
                began = time.process_time()
                expanded = detect.expand(app.cache, config, now)
                expand_cpu.append(time.process_time() - began)
                if counted:
                    callgrind("--instr=off")
                    callgrind(f"--dump=expand{i}")
            if prof is not None and i == repeat - 1:
                prof.disable()
        app.dispose()
    if counted:  # CPU under valgrind means nothing: the caller prints the instructions
        print(f"{found.changed:,} changed records, {found.queued:,} queued", flush=True)
        return
    print(
        f"{found.changed:,} changed records, {found.queued:,} queued; detection CPU s: "
        f"min {min(cpu):.4f}, median {sorted(cpu)[len(cpu) // 2]:.4f} ({repeat} runs); "
        f"insert of the last {found.write_cpu:.4f}",
        flush=True,
    )
    if expanded is not None:
        print(
            f"expanded into {expanded.queued:,} outbox rows; expansion CPU s (the sender's): "
            f"min {min(expand_cpu):.4f}, median {sorted(expand_cpu)[len(expand_cpu) // 2]:.4f}",
            flush=True,
        )
    if prof is not None:
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)


def dumped(script: str, argv: list[str], names: list[str]) -> dict[str, int]:
    """``script``'s ``run`` (``argv`` after ``run``, with ``--counted``) under callgrind,
    counting only where it switches callgrind on: the instructions of each dump ``names``
    it made (by callgrind_control's ``--dump=NAME``)."""
    if not shutil.which("valgrind"):
        raise SystemExit("--instructions needs valgrind (Debian: apt-get install valgrind)")
    out: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(  # noqa: S603 - valgrind and our own interpreter and script
            ["valgrind", "--tool=callgrind", "--instr-atstart=no",  # noqa: S607
             f"--callgrind-out-file={Path(tmp) / 'callgrind.out'}", sys.executable, script, "run", *argv, "--counted"],
            check=True, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for path in Path(tmp).glob("callgrind.out.*"):
            text = path.read_text()
            for name in names:
                if f"dump {name}\n" in text:
                    out[name] = int(re.search(r"^totals: (\d+)", text, re.M).group(1))  # type: ignore[union-attr]
    return out


def instructions(args: argparse.Namespace) -> None:
    """This script's ``run`` under callgrind: the instructions of each detection."""
    argv = [str(args.dir), "--repeat", str(args.repeat), *(["--detect-only"] if args.detect_only else [])]
    totals = dumped(
        __file__, argv, [f"{step}{i}" for i in range(args.repeat) for step in ("detect", "expand")]
    )
    for i in range(args.repeat):
        for step, name in (("detect", "detection"), ("expand", "expansion (the sender's)")):
            total = totals.get(f"{step}{i}")
            if total is None:  # older code: no expansion step
                continue
            print(f"{name} {i + 1}: {total / 1e6:,.1f} million instructions" + (" (cold)" if i == 0 else ""))


def saved_run_parser(
    doc: str, students: int, repeat: int, setup_help: str, run_help: str
) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """A benchmark of two commands: ``setup DIR`` (a district of ``--students``, ``--change``
    of it edited, up to ``--today``) and ``run DIR`` (``--repeat``, ``--instructions`` and
    the hidden ``--counted`` of its own run under callgrind): the parser, and ``run``'s."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("setup", help=setup_help)
    s.add_argument("dir", type=Path)
    s.add_argument("--students", type=int, default=students)
    s.add_argument("--change", type=float, default=0.01)
    s.add_argument("--today", type=dt.date.fromisoformat, default=dt.date(2026, 9, 25))
    r = sub.add_parser("run", help=run_help)
    r.add_argument("dir", type=Path)
    r.add_argument("--repeat", type=int, default=repeat)
    r.add_argument("--instructions", action="store_true", help="count instructions under callgrind")
    r.add_argument("--counted", action="store_true", help=argparse.SUPPRESS)  # --instructions' own run
    return ap, r


def main() -> None:
    ap, r = saved_run_parser(
        __doc__,
        4000,
        5,
        "build the district and its changed run into DIR",
        "detect on the saved run, repeatedly",
    )
    r.add_argument("--profile", action="store_true", help="cProfile (CPU) of the last run")
    r.add_argument(
        "--detect-only", action="store_true", help="detection alone, without the sender's expansion"
    )
    args = ap.parse_args()
    if args.command == "setup":
        setup(args.dir, args.students, args.today, args.change)
    elif args.instructions:
        instructions(args)
    else:
        run(args.dir, args.repeat, args.counted, args.profile, expand=not args.detect_only)


if __name__ == "__main__":
    main()
