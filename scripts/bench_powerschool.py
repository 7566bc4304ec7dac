#!/usr/bin/env python3
"""Measure the PowerSchool connector reading the simulator over loopback (server in its own process).

Usage: scripts/bench_powerschool [--students 10000] [--streams attendance] [--full-year]
Prints records/s per stream and the client's µs per record (parse + normalise + paging).
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from config.secrets import SecretResolver  # noqa: E402
from connectors import registry  # noqa: E402
from simulators.district.synthetic import DistrictSpec, SyntheticDistrict  # noqa: E402
from simulators.powerschool.model import CONNECTOR_OPTIONS  # noqa: E402
from simulators.powerschool.server import free_port, serve  # noqa: E402

CID, SECRET = "bench-client", "bench-secret"


def _serve(spec: DistrictSpec, port: int, cap: int) -> None:
    serve(
        spec, "127.0.0.1", port, client_id=CID, client_secret=SECRET, schema_page_cap=cap, log_level="warning"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--students", type=int, default=10_000)
    ap.add_argument("--schools", type=int, default=4)
    ap.add_argument("--streams", default="attendance", help="comma-separated stream names, or 'all'")
    ap.add_argument("--full-year", action="store_true", help="today = the end of the school year")
    ap.add_argument("--page-cap", type=int, default=5000, help="the simulator's schema page-size cap")
    args = ap.parse_args()

    today = dt.date(2026, 11, 24)
    probe = SyntheticDistrict(DistrictSpec(students=20, today=today))
    if args.full_year:
        today = probe.year_end
    spec = DistrictSpec(seed=7, schools=args.schools, students=args.students, today=today)
    port = free_port()
    server = multiprocessing.Process(target=_serve, args=(spec, port, args.page_cap), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            httpx.get(f"{base}/ws/v1/metadata", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    ctx = registry.BuildContext(secrets=SecretResolver(env={"ID": CID, "SECRET": SECRET}))
    options = {
        "base_url": base,
        "client_id": {"env": "ID"},
        "client_secret": {"env": "SECRET"},
        "timeout": 120,
        **CONNECTOR_OPTIONS,
    }
    connector = registry.build("powerschool", "bench", options, ctx)
    names = [s.name for s in connector.streams()] if args.streams == "all" else args.streams.split(",")
    try:
        for name in names:
            t0, cpu0 = time.perf_counter(), time.process_time()
            n = rejected = pages = 0
            for page in connector.read(name, None):
                n += len(page.records)
                rejected += len(page.rejected)
                pages += 1
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            print(
                f"{name:12} {n:>9,} records {pages:>5} pages {wall:7.2f} s  {n / wall:>9,.0f} rec/s  "
                f"client CPU {cpu / max(n, 1) * 1e6:5.2f} µs/rec  rejected {rejected}"
            )
    finally:
        connector.close()
        server.terminate()
        server.join()


if __name__ == "__main__":
    main()
