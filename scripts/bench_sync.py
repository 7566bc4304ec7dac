"""Sync benchmark: (a) end to end over loopback HTTP, (b) Portico's own cost from replayed
pages, (c) the ceiling of plain executemany rows of the same size, all in one run.

Each measurement runs in its own process so peak RSS belongs to that measurement alone.
Usage: scripts/bench_sync [--students N] [--sizes N,N] [--out FILE]   (figures: docs/PERFORMANCE-sync.md)
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CID, SECRET = "bench-client", "bench-secret-0123456789"


def spec(students: int) -> Any:
    from simulators.district.synthetic import DistrictSpec, SyntheticDistrict

    # A full school year of attendance: "today" is the last day of the year.
    probe = SyntheticDistrict(DistrictSpec(seed=5, schools=max(2, students // 1000), students=students))
    return DistrictSpec(seed=5, schools=max(2, students // 1000), students=students, today=probe.year_end)


def _sync(workdir: Path, transport: Any, base_url: str) -> dict[str, Any]:
    from cache.db import keystore_url
    from cache.keys.crypto import new_kek_line
    from cache.migrations import runner as migrations
    from cache.store import open_cache
    from config.secrets import SecretResolver
    from config.settings import PorticoConfig
    from connectors import registry
    from gateway.sync.engine import SyncEngine
    from simulators.powerschool.model import CONNECTOR_OPTIONS

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
    ctx = registry.BuildContext(
        secrets=SecretResolver(env={"ID": CID, "SECRET": SECRET}), transport=transport
    )
    connector = registry.build(
        "powerschool",
        "sis",
        {"base_url": base_url, "client_id": {"env": "ID"}, "client_secret": {"env": "SECRET"}, **CONNECTOR_OPTIONS},
        ctx,
    )
    t0 = time.perf_counter()
    out = SyncEngine(cache.engine, cache.keyring, config, config.connectors[0]).run(connector, full=True)
    seconds = time.perf_counter() - t0
    connector.close()
    with sqlite3.connect(workdir / "cache.db") as db:
        avg_payload, avg_ref = db.execute(
            "SELECT avg(length(payload)), avg(length(ref)) FROM record"
        ).fetchone()
    cache.dispose()
    assert out.status == "published", out
    return {
        "records": out.records,
        "seconds": seconds,
        "avg_payload": avg_payload,
        "avg_ref": avg_ref,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measure_http(students: int, base_url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        return _sync(Path(tmp), None, base_url)


def _replay_class() -> Any:
    import httpx

    class Replay(httpx.BaseTransport):
        """Answers from recorded responses: (method, url, body) → (status, body, headers)."""

        def __init__(
            self, recorded: dict[tuple[str, str, bytes], tuple[int, bytes, list[tuple[str, str]]]]
        ) -> None:
            self.recorded = recorded

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            status, body, headers = self.recorded[(request.method, str(request.url), request.content)]
            return httpx.Response(status, content=body, headers=headers, request=request)

    return Replay


def measure_replay(students: int, base_url: str) -> dict[str, Any]:
    """Record every page once over HTTP, then time the sync replaying them from memory."""
    import httpx

    recorded: dict[tuple[str, str, bytes], tuple[int, bytes, list[tuple[str, str]]]] = {}
    real = httpx.HTTPTransport()

    class Recorder(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            resp = real.handle_request(request)
            body = resp.read()
            recorded[(request.method, str(request.url), request.content)] = (
                resp.status_code,
                body,
                list(resp.headers.items()),
            )
            return httpx.Response(resp.status_code, content=body, headers=resp.headers, request=request)

    with tempfile.TemporaryDirectory() as tmp:
        _sync(Path(tmp), Recorder(), base_url)
    with tempfile.TemporaryDirectory() as tmp:
        return _sync(Path(tmp), _replay_class()(recorded), base_url)


def measure_ceiling(rows: int, payload: int, ref: int) -> dict[str, Any]:
    """Plain rows of the same size, executemany in one transaction, WAL, synchronous=NORMAL, indexed.

    Refs are random like Portico's blind indexes, so index inserts cost the same.
    """
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(Path(tmp) / "ceiling.db")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(
            "CREATE TABLE r (id INTEGER PRIMARY KEY, source TEXT, kind TEXT, ref TEXT, student_ref TEXT, "
            "day TEXT, key_id TEXT, digest BLOB, payload BLOB, valid_from INTEGER)"
        )
        db.execute("CREATE INDEX ix_r_ref ON r (source, kind, ref, valid_from)")
        db.execute("CREATE INDEX ix_r_student ON r (student_ref, kind, day)")
        blob = os.urandom(int(payload))
        t0 = time.perf_counter()
        batch = []
        with db:
            for _ in range(rows):
                r = base64.urlsafe_b64encode(os.urandom(16)).decode()[: int(ref)]
                batch.append(
                    ("sis", "attendance", r, r[-8:], "2026-09-01", "dk_0123456789abcdef", blob[:16], blob, 1)
                )
                if len(batch) == 5000:
                    db.executemany(
                        "INSERT INTO r (source, kind, ref, student_ref, day, key_id, digest, payload, valid_from)"
                        " VALUES (?,?,?,?,?,?,?,?,?)",
                        batch,
                    )
                    batch.clear()
            if batch:
                db.executemany(
                    "INSERT INTO r (source, kind, ref, student_ref, day, key_id, digest, payload, valid_from)"
                    " VALUES (?,?,?,?,?,?,?,?,?)",
                    batch,
                )
        seconds = time.perf_counter() - t0
        db.close()
    return {"records": rows, "seconds": seconds}


def child(mode: str, students: int, base_url: str, extra: str) -> None:
    if mode == "http":
        print(json.dumps(measure_http(students, base_url)))
    elif mode == "replay":
        print(json.dumps(measure_replay(students, base_url)))
    else:
        rows, payload, ref = (float(x) for x in extra.split(","))
        print(json.dumps(measure_ceiling(int(rows), payload, ref)))


def run_child(mode: str, students: int, base_url: str, extra: str = "") -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            mode,
            "--students",
            str(students),
            "--url",
            base_url,
            "--extra",
            extra,
        ],
        check=False,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        sys.exit(f"{mode} measurement failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def start_simulator(students: int) -> tuple[subprocess.Popen[bytes], str]:
    from simulators.powerschool.server import _free_port

    port = _free_port("127.0.0.1")
    s = spec(students)
    env = {**os.environ, "PORTICO_SIM_CLIENT_ID": CID, "PORTICO_SIM_CLIENT_SECRET": SECRET}
    cmd = [
        sys.executable,
        "-m",
        "gateway",
        "simulate",
        "powerschool",
        "--seed",
        str(s.seed),
        "--schools",
        str(s.schools),
        "--students",
        str(s.students),
        "--today",
        s.today.isoformat(),
        "--port",
        str(port),
        "--schema-page-cap",
        "5000",
        "--quiet",
    ]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT)
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/ws/v1/metadata", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    return proc, f"http://127.0.0.1:{port}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--students", type=int, default=10_000)
    ap.add_argument(
        "--sizes", default="", help="Extra district sizes for the flat-memory check, e.g. 2500,5000"
    )
    ap.add_argument("--child")
    ap.add_argument("--url", default="")
    ap.add_argument("--extra", default="")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    if args.child:
        child(args.child, args.students, args.url, args.extra)
        return
    sizes = sorted({args.students, *(int(s) for s in args.sizes.split(",") if s)})
    results: dict[int, dict[str, Any]] = {}
    for n in sizes:
        proc, url = start_simulator(n)
        try:
            print(f"[{n} students] (a) end to end over loopback HTTP ...", flush=True)
            a = run_child("http", n, url)
            print(
                f"    {a['records']:,} records in {a['seconds']:.1f}s = {a['records'] / a['seconds']:,.0f}/s; "
                f"peak RSS {a['rss_mb']:.0f} MB",
                flush=True,
            )
            results[n] = {"a": a}
            if n == args.students:
                print(
                    f"[{n} students] (b) replayed pages: normalize → encrypt → write → publish ...",
                    flush=True,
                )
                b = run_child("replay", n, url)
                print(f"    {b['records'] / b['seconds']:,.0f}/s", flush=True)
                row_bytes = b["avg_payload"]
                print(
                    f"[{n} students] (c) ceiling: {b['records']:,} plain rows of {row_bytes:.0f} B, executemany ...",
                    flush=True,
                )
                c = run_child("ceiling", n, url, f"{b['records']},{row_bytes},{b['avg_ref']}")
                print(f"    {c['records'] / c['seconds']:,.0f}/s", flush=True)
                results[n].update(b=b, c=c)
        finally:
            proc.terminate()
            proc.wait()
    main_n = args.students
    a, b, c = results[main_n]["a"], results[main_n]["b"], results[main_n]["c"]
    ratio = (b["records"] / b["seconds"]) / (c["records"] / c["seconds"])
    lines = [
        f"Sync benchmark, {dt.date.today()}, district of {main_n:,} students with a full school year "
        f"({a['records']:,} records), SQLite cache:",
        "",
        "| measurement | records/s | seconds | peak RSS |",
        "| --- | --- | --- | --- |",
        f"| (a) end to end from the simulator over loopback HTTP | {a['records'] / a['seconds']:,.0f} | {a['seconds']:.1f} | {a['rss_mb']:.0f} MB |",
        f"| (b) Portico's own cost: replayed pages → normalize → encrypt → write → publish | {b['records'] / b['seconds']:,.0f} | {b['seconds']:.1f} | {b['rss_mb']:.0f} MB |",
        f"| (c) ceiling: plain rows of the same size, executemany, one transaction | {c['records'] / c['seconds']:,.0f} | {c['seconds']:.1f} | |",
        "",
        f"(b)/(c) = {ratio:.0%} (target ≥ 40%).",
    ]
    if len(results) > 1:
        lines += [
            "",
            "Peak RSS of (a) by district size (flat = streaming): "
            + ", ".join(f"{n:,} students {r['a']['rss_mb']:.0f} MB" for n, r in sorted(results.items())),
        ]
    text = "\n".join(lines)
    print("\n" + text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
