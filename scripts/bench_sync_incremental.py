"""Incremental sync benchmark: 1% of records changed, incremental run vs full run, one invocation.

The simulator runs in its own process (so it does not share the GIL with the sync) and
takes ``change F`` on stdin: every record kind gets a share F of its records edited,
each with a new transaction_date. Then, against one SQLite cache:

  1. initial load (full, everything encrypted and written)
  2. 1% changed, full reconciliation run (``--full``: reads everything, rewrites the 1%)
  3. 1% changed again, incremental run (reads changes since the cursor, rewrites them)

Usage: scripts/bench_sync incremental [--students 10000] [--change 0.01] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.bench_sync import CID, SECRET, spec  # noqa: E402


def serve_simulator(students: int) -> None:
    """Child: serve the simulator on loopback; print its URL; apply ``change F`` lines."""
    from simulators.district.synthetic import SyntheticDistrict
    from simulators.powerschool.server import make_app, run_in_thread

    district = SyntheticDistrict(spec(students))
    app = make_app(district, client_id=CID, client_secret=SECRET, schema_page_cap=5000)
    url, stop = run_in_thread(app)
    print(url, flush=True)
    sim = app.state.sim
    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        if cmd == "change":
            changed = {kind: len(sim.state.change(kind, fraction=float(arg))) for kind in district.kinds()}
            print(json.dumps(changed), flush=True)
    stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=10_000)
    ap.add_argument("--change", type=float, default=0.01)
    ap.add_argument("--out", default="")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve_simulator(args.students)
        return
    sim = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--students", str(args.students)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert sim.stdin is not None and sim.stdout is not None
    try:
        url = sim.stdout.readline().strip()

        def change() -> dict[str, int]:
            assert sim.stdin is not None and sim.stdout is not None
            sim.stdin.write(f"change {args.change}\n")
            sim.stdin.flush()
            return json.loads(sim.stdout.readline())  # type: ignore[no-any-return]

        with tempfile.TemporaryDirectory() as tmp:
            results = run_three(Path(tmp), url, change)
    finally:
        if sim.stdin:
            sim.stdin.close()
        sim.wait(timeout=30)
    report(args, results)


def timer(into: dict[str, float]) -> Any:
    def done(stream: str, _records: int, seconds: float) -> None:
        into[stream] = round(seconds, 2)

    return done


def run_three(workdir: Path, url: str, change: Any) -> dict[str, dict[str, Any]]:
    from cache.db import keystore_url
    from cache.keys.crypto import new_kek_line
    from cache.migrations import runner as migrations
    from cache.store import open_cache
    from config.secrets import SecretResolver
    from config.settings import PorticoConfig
    from connectors import registry
    from gateway.sync.engine import Progress, SyncEngine

    (workdir / "kek.key").write_text(new_kek_line() + "\n")
    config = PorticoConfig.model_validate(
        {
            "district": {"name": "Bench", "timezone": "America/New_York"},
            "cache": {"url": f"sqlite:///{workdir / 'cache.db'}", "kek": {"file": str(workdir / "kek.key")}},
            "connectors": [{"name": "sis", "type": "powerschool", "options": {}}],
        }
    )
    migrations.upgrade(config.cache.url, keystore_url(config))
    cache = open_cache(config, SecretResolver())
    engine = SyncEngine(cache.engine, cache.keyring, config, config.connectors[0])
    ctx = registry.BuildContext(secrets=SecretResolver(env={"ID": CID, "SECRET": SECRET}))
    from simulators.powerschool.model import CONNECTOR_OPTIONS

    options = {
        "base_url": url,
        "client_id": {"env": "ID"},
        "client_secret": {"env": "SECRET"},
        **CONNECTOR_OPTIONS,
    }
    results: dict[str, dict[str, Any]] = {}
    for label, full, edit in (("load", True, False), ("full", True, True), ("incremental", False, True)):
        edited = change() if edit else {}
        connector = registry.build("powerschool", "sis", options, ctx)
        print(f"[{label}] syncing ...", flush=True)
        t0 = time.perf_counter()
        streams: dict[str, float] = {}
        progress = Progress(on_stream_done=timer(streams))
        out = engine.run(connector, full=full, progress=progress)
        seconds = time.perf_counter() - t0
        connector.close()
        assert out.status == "published", out
        rewritten = sum(c["added"] + c["changed"] for c in out.counts.values())
        results[label] = {
            "seconds": seconds,
            "records": out.records,
            "rewritten": rewritten,
            "edited": sum(edited.values()),
            "streams": streams,
        }
        print(f"    {out.records:,} records read, {rewritten:,} rewritten in {seconds:.1f}s", flush=True)
        print(f"    seconds per stream: {streams}", flush=True)
    cache.dispose()
    return results


def report(args: argparse.Namespace, r: dict[str, dict[str, Any]]) -> None:
    inc, full, load = r["incremental"], r["full"], r["load"]
    lines = [
        f"Incremental sync benchmark, {dt.date.today()}: district of {args.students:,} students with a full "
        f"school year ({load['records']:,} records), SQLite cache, simulator in its own process over loopback.",
        f"Before runs 2 and 3, {args.change:.0%} of the records of every kind were edited in the source.",
        "",
        "| run | records read | records rewritten | seconds |",
        "| --- | --- | --- | --- |",
        f"| 1. initial load (full) | {load['records']:,} | {load['rewritten']:,} | {load['seconds']:.1f} |",
        f"| 2. full reconciliation after {full['edited']:,} edits | {full['records']:,} | {full['rewritten']:,} | {full['seconds']:.1f} |",
        f"| 3. incremental after {inc['edited']:,} more edits | {inc['records']:,} | {inc['rewritten']:,} | {inc['seconds']:.1f} |",
        "",
        f"Incremental / full reconciliation = {inc['seconds'] / full['seconds']:.1%}; "
        f"incremental / initial load = {inc['seconds'] / load['seconds']:.1%} (target under 10%).",
    ]
    text = "\n".join(lines)
    print("\n" + text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
