"""The staging's keep step alone (what a publish spends keeping alerts' change set), A/B
between code trees on one saved district: CPU, or instructions under callgrind.

``scripts/bench_alerts`` reports the keep step once per district it builds, beside a publish
of many seconds; on a shared machine its CPU moves by a third from run to run. This builds
the district once (``setup``: the initial load, and the edits of ``bench_alerts`` saved),
then runs the same incremental publish of those edits from a fresh copy of that cache as
often as asked (``run``), with the change set's watcher and no hook:

  python scripts/bench_keep.py setup DIR --students 10000 --today 2026-09-25
  python scripts/bench_keep.py run DIR --repeat 5                  # CPU of each keep step
  python scripts/bench_keep.py run DIR --instructions              # under callgrind
  BENCH_PROFILE=1 python scripts/bench_keep.py run DIR --repeat 1  # cProfile of the keep steps

``BENCH_TREE=<another checkout>`` runs that tree's staging and detection on the same saved
district (the cache's schema must be the same); run the trees in turn, so they see the
same load. ``--instructions`` counts only the keep steps (``Staging._kept`` and
``Staging._collect``, or ``_collect`` alone in code that has no ``_kept``): callgrind is
switched on around each call, and what switching costs (counted empty, as many times) is
taken off. The sealing loop's share (a retired version noted beside its owner's cipher)
is not in the count.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import pickle
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_alerts as alerts_bench  # noqa: E402  (it puts its own tree first on the path)
import bench_detect  # noqa: E402

sys.path.insert(0, os.environ.get("BENCH_TREE") or str(HERE.parent))


def setup(workdir: Path, students: int, today: dt.date, change: float) -> None:
    """The district of ``scripts/bench_alerts`` (same seed, same edits) loaded, the edits saved."""
    _, app, _, kinds, changed = bench_detect.loaded(workdir, students, today, change)
    app.dispose()
    with (workdir / "edits.pickle").open("wb") as f:
        pickle.dump((today, kinds, changed), f)
    print(f"saved in {workdir}: {sum(len(v) for v in changed.values()):,} edited records")


def run(saved: Path, repeat: int, counted: bool) -> None:
    """The saved edits published ``repeat`` times, each from a fresh copy of the saved cache."""
    from gateway.alerts import detect
    from gateway.sync.engine import SyncEngine

    with (saved / "edits.pickle").open("rb") as f:
        today, kinds, changed = pickle.load(f)  # noqa: S301 - our own file, written by setup
    calls = [0]

    def switched(step: Callable[..., Any]) -> Callable[..., Any]:
        """A keep step counted by callgrind (switched on around it), its calls counted."""

        def wrapped(self: Any, *args: Any) -> Any:
            calls[0] += 1
            bench_detect.callgrind("--instr=on")
            try:
                return step(self, *args)
            finally:
                bench_detect.callgrind("--instr=off")

        return wrapped

    with alerts_bench.keep_steps(switched) if counted else contextlib.nullcontext():
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as tmp:
                work = Path(tmp)
                for name in ("cache.db", "cache-keys.db", "kek.key"):
                    shutil.copy(saved / name, work / name)
                config, app, now = bench_detect.application(work, today)
                captured = alerts_bench.Captured(detect.after_publish(app.cache, config, lambda at=now: at))
                engine = SyncEngine(
                    app.cache.engine, app.cache.keyring, config, config.connectors[0], on_published=[captured]
                )
                began = time.process_time()
                with alerts_bench.profiled_collect():  # BENCH_PROFILE=1: a cProfile of the keep steps
                    result = engine.run(alerts_bench.Changes("sis", kinds, changed))
                publish = time.process_time() - began
                assert result.status == "published" and captured.changes is not None, result
                changes = captured.changes
                print(
                    f"keep {changes.cpu:.4f} s CPU of a publish of {publish:.3f} s; {len(changes.versions):,} "
                    f"versions kept (load average {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
                app.dispose()
    if counted:
        bench_detect.callgrind("--dump=keep")
        for _ in range(calls[0]):  # what switching costs, as many times, with nothing between
            bench_detect.callgrind("--instr=on")
            bench_detect.callgrind("--instr=off")
        bench_detect.callgrind("--dump=switching")


def instructions(args: argparse.Namespace) -> None:
    """This script's ``run`` under callgrind: the keep steps' instructions, switching taken off."""
    totals = bench_detect.dumped(
        __file__, [str(args.dir), "--repeat", str(args.repeat)], ["keep", "switching"]
    )
    keep = totals["keep"] - totals["switching"]
    print(
        f"keep steps: {keep / 1e6:,.1f} million instructions over {args.repeat} publish(es) "
        f"({totals['keep'] / 1e6:,.1f} counted, {totals['switching'] / 1e6:,.1f} of it switching)"
    )


def main() -> None:
    ap, _ = bench_detect.saved_run_parser(
        __doc__,
        10_000,
        3,
        "load the district into DIR and save its edits",
        "publish the saved edits, repeatedly",
    )
    args = ap.parse_args()
    if args.command == "setup":
        return setup(args.dir, args.students, args.today, args.change)
    return instructions(args) if args.instructions else run(args.dir, args.repeat, args.counted)


if __name__ == "__main__":
    main()
