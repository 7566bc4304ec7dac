"""scripts/bench_feeds: what a calendar feed and a family token cost, in process CPU time.

The district and its signed-in parents are scripts/bench_api's (its harness, reused), on
SQLite. Everything runs in this process (TestClient), so ``time.process_time`` counts
Portico's work and the client's alike; the same client serves every row, so the
differences between rows are Portico's. Rows alternate in rounds so drift on a shared
machine hits each alike.

- **feed build**: ``gateway.api.ical.build`` for one child (the reads, decryption and the
  iCalendar text), for each of ``--children`` children;
- **feed fetch**: ``GET /v1/calendar/{secret}.ics`` whole (lookup, throttle, live check,
  audit, build), the same children;
- **token vs session**: ``GET /v1/students/{id}/attendance`` with a family token, then
  with a session, ``--requests`` each; the difference is the token's lookup, its limit
  count (a write per request) and its scope.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cache.read.reader import Reader  # noqa: E402
from cache.read.visibility import StudentVisibility, rule_for, window  # noqa: E402
from cache.snapshots.runs import load_state  # noqa: E402
from cache.store import open_cache  # noqa: E402
from config.secrets import SecretResolver  # noqa: E402
from config.settings import PorticoConfig  # noqa: E402
from gateway.access import sessions  # noqa: E402
from gateway.api import ical  # noqa: E402
from gateway.api.app import create_app  # noqa: E402
from gateway.api.deps import principal_of  # noqa: E402
from gateway.api.routes.family import school_year_start  # noqa: E402
from scripts.bench_api import build  # noqa: E402


def cpu_ms(fn, n: int = 1) -> float:  # type: ignore[no-untyped-def]
    t = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - t) / n * 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--students", type=int, default=200)
    p.add_argument("--children", type=int, default=20, help="children whose feeds are built and fetched")
    p.add_argument("--requests", type=int, default=300, help="requests per round, token and session each")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--write", type=Path, default=None, help="write the results as Markdown to this file")
    args = p.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-feeds-"))
    try:
        pairs = build(base, students=args.students, clients=args.children)
        raw = json.loads((base / "config.json").read_text())
        # The bench makes many feeds and tokens and fetches them often: no limits in the way.
        unlimited = {"count": 10**9, "per": "PT1H"}
        raw["api"] = {"throttles": {k: unlimited for k in (
            "feed_fetches_per_feed", "requests_per_family_token", "feeds_and_tokens_created_per_account")}}  # fmt: skip
        config = PorticoConfig.model_validate(raw)
        cache = open_cache(config, SecretResolver(base_dir=base))
        app = create_app(config, cache)
        rows: dict[str, list[float]] = {"feed build": [], "feed fetch": [], "token": [], "session": []}
        sizes: list[int] = []
        with TestClient(app) as c:
            feeds, tokens = [], []
            for token, sid in pairs:
                h = {"Authorization": f"Bearer {token}"}
                r = c.post("/v1/account/feeds", json={"student_id": sid}, headers=h)
                assert r.status_code == 201, r.text
                feeds.append((r.json()["data"]["url"].split("/v1/", 1)[1], sid, token))
                r = c.post(
                    "/v1/account/tokens",
                    json={"students": [sid], "kinds": ["attendance"], "expires_in_days": 30},
                    headers=h,
                )
                assert r.status_code == 201, r.text
                tokens.append((r.json()["data"]["token"], sid, token))
            portico = app.state.portico
            today = portico.today()
            win = ical.feed_window(config, today)

            def build_all() -> None:
                with cache.engine.connect() as conn:
                    for _, sid, session in feeds:
                        found = sessions.resolve(conn, session, config.access)
                        assert found is not None
                        state = load_state(conn, "sis")
                        assert state is not None and state.published_run is not None
                        reader = Reader(conn, cache.keyring, portico.attached)
                        s = reader.student(principal_of(found), state.published_run, today, sid)
                        assert s is not None
                        vis = StudentVisibility(config.visibility, portico.clock(), reader, s, portico.tz)
                        body = ical.build(
                            reader, config, s, tz=vis.tz, window=win, year_start=school_year_start(reader, portico, s),
                            assignments_window=vis.of("assignment"),
                            notices_window=window(rule_for(config.visibility, "notice"), portico.clock(), portico.tz),
                            today=today, stamp=portico.clock(),
                        )  # fmt: skip
                        sizes.append(len(body))

            def fetch_all() -> None:
                for path, _, _ in feeds:
                    assert c.get("/v1/" + path).status_code == 200

            def attendance(header: str, sid: str) -> None:
                assert (
                    c.get(f"/v1/students/{sid}/attendance", headers={"Authorization": header}).status_code
                    == 200
                )

            pft, sid, session = tokens[0]
            build_all(), fetch_all()  # warm up
            for _ in range(args.rounds):
                rows["feed build"].append(cpu_ms(build_all) / len(feeds))
                rows["feed fetch"].append(cpu_ms(fetch_all) / len(feeds))
                rows["token"].append(cpu_ms(lambda: attendance(f"Bearer {pft}", sid), args.requests))
                rows["session"].append(cpu_ms(lambda: attendance(f"Bearer {session}", sid), args.requests))
        cache.dispose()
    finally:
        shutil.rmtree(base)
    med = {k: statistics.median(v) for k, v in rows.items()}
    overhead = med["token"] - med["session"]
    lines = [
        f"| feed build, per child (`ical.build`: reads, decryption, iCalendar) | {med['feed build']:.2f} ms |",
        f"| feed fetch, per child (`GET /v1/calendar/{{secret}}.ics` whole) | {med['feed fetch']:.2f} ms |",
        f"| feed size, median | {statistics.median(sizes) / 1024:.1f} KiB |",
        f"| `GET /v1/students/{{id}}/attendance` with a session | {med['session']:.2f} ms |",
        f"| the same with a family token | {med['token']:.2f} ms |",
        f"| a family token's overhead per request | {overhead:+.2f} ms ({overhead / med['session']:+.0%}) |",
    ]
    table = "| what (process CPU time, median of rounds) | figure |\n| --- | --- |\n" + "\n".join(lines)
    print(table)
    if args.write:
        when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        args.write.write_text(
            "# Performance: calendar feeds and family tokens\n\n"
            f"Measured {when} on a shared 2-core machine: `scripts/bench_feeds --students {args.students} "
            f"--children {args.children} --requests {args.requests} --write docs/PERFORMANCE-feeds.md`. "
            "Process CPU time in one process (TestClient, SQLite), so the figures hold under load better "
            "than wall-clock times would; the client's own work is in every row alike. A feed covers "
            "`access.calendar_days_back` and `calendar_days_ahead` around today (14 and 120 days).\n\n"
            + table
            + "\n\nA family token costs its lookup (one indexed query with the account), the count of "
            "its limit (`api.throttles.requests_per_family_token`: one upsert and commit per request, "
            "shared by every replica) and, every minute at most, its last-used time.\n"
        )


if __name__ == "__main__":
    main()
