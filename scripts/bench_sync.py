"""Sync benchmark: (a) end to end over loopback HTTP, (b) Portico's own cost from replayed
pages, (c) the ceiling of plain rows of the same size, all in one run.

Each measurement runs in its own process so peak RSS belongs to that measurement alone.
Usage: scripts/bench_sync [--students N] [--sizes N,N] [--out FILE]   (figures: docs/PERFORMANCE-sync.md)
       scripts/bench_sync --rss 500,2000,5000 [--db ...]   peak RSS and CPU per record only

With ``--db postgresql://...`` the cache and keystore live in PostgreSQL (a fresh schema per
measurement, dropped afterwards), the ceiling is a binary COPY into an unlogged table, and
the parents' dashboard is loaded on the synced cache (figures: docs/PERFORMANCE-scale.md).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CID, SECRET = "bench-client", "bench-secret-0123456789"


def spec(students: int) -> Any:
    from simulators.district.synthetic import DistrictSpec, SyntheticDistrict

    # By default a full school year of attendance: "today" is the last day of the year.
    # --today (handed to the child processes as PORTICO_BENCH_TODAY) syncs the year so far.
    schools = max(2, students // 1000)
    if today := os.environ.get("PORTICO_BENCH_TODAY"):
        return DistrictSpec(seed=5, schools=schools, students=students, today=dt.date.fromisoformat(today))
    probe = SyntheticDistrict(DistrictSpec(seed=5, schools=schools, students=students))
    return DistrictSpec(seed=5, schools=schools, students=students, today=probe.year_end)


def year_so_far() -> str:
    today = os.environ.get("PORTICO_BENCH_TODAY")
    return f"the school year up to {today}" if today else "a full school year"


def _sync(workdir: Path, transport: Any, base_url: str, db: str = "") -> dict[str, Any]:
    from cache.db import keystore_url
    from cache.keys.crypto import new_kek_line
    from cache.migrations import runner as migrations
    from cache.store import open_cache
    from config.secrets import SecretResolver
    from config.settings import PorticoConfig
    from connectors import registry
    from gateway.sync.engine import SyncEngine
    from simulators.powerschool.model import CONNECTOR_OPTIONS

    if os.environ.get("PORTICO_BENCH_NO_COPY"):  # the A/B of --ab-copy: executemany only
        from cache.snapshots import staging

        staging.COPY_MIN_ROWS = 10**12
    (workdir / "kek.key").write_text(new_kek_line() + "\n")
    config = PorticoConfig.model_validate(config_raw(workdir, db))
    migrations.upgrade(config.cache.url, keystore_url(config))
    cache = open_cache(config, SecretResolver())
    ctx = registry.BuildContext(
        secrets=SecretResolver(env={"ID": CID, "SECRET": SECRET}), transport=transport
    )
    connector = registry.build(
        "powerschool",
        "sis",
        {
            "base_url": base_url,
            "client_id": {"env": "ID"},
            "client_secret": {"env": "SECRET"},
            **CONNECTOR_OPTIONS,
        },
        ctx,
    )
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    out = SyncEngine(cache.engine, cache.keyring, config, config.connectors[0]).run(connector, full=True)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    connector.close()
    with cache.engine.connect() as conn:
        sql = (
            "SELECT avg(length(payload)), avg(length(ref)) FROM record"
            if cache.engine.dialect.name == "sqlite"
            else "SELECT avg(octet_length(payload)), avg(length(ref)) FROM record"
        )
        avg_payload, avg_ref = conn.exec_driver_sql(sql).one()
    cache.dispose()
    assert out.status == "published", out
    return {
        "records": out.records,
        "seconds": seconds,
        "cpu": cpu,
        "avg_payload": float(avg_payload),
        "avg_ref": float(avg_ref),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def config_raw(workdir: Path, db: str) -> dict[str, Any]:
    """The bench's config: SQLite in ``workdir``, or PostgreSQL at ``db`` (keystore beside the cache)."""
    return {
        "district": {"name": "Bench", "timezone": "America/New_York"},
        "cache": {
            "url": db or f"sqlite:///{workdir / 'cache.db'}",
            "kek": {"file": str(workdir / "kek.key")},
        },
        "connectors": [{"name": "sis", "type": "powerschool", "options": {}}],
        "access": {"session_idle_timeout": "PT2H"},
    }


def measure_http(students: int, base_url: str, db: str = "", workdir: str = "") -> dict[str, Any]:
    if workdir:  # kept: the dashboard is measured on this cache afterwards
        return _sync(Path(workdir), None, base_url, db)
    with tempfile.TemporaryDirectory() as tmp:
        return _sync(Path(tmp), None, base_url, db)


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


def measure_replay(students: int, base_url: str, db: str = "") -> dict[str, Any]:
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

    with tempfile.TemporaryDirectory() as tmp, fresh_schema(db) as url:
        _sync(Path(tmp), Recorder(), base_url, url)
    with tempfile.TemporaryDirectory() as tmp, fresh_schema(db) as url:
        return _sync(Path(tmp), _replay_class()(recorded), base_url, url)


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


@contextlib.contextmanager
def fresh_schema(db: str) -> Iterator[str]:
    """A URL on a new schema of PostgreSQL database ``db``, dropped afterwards ("" for SQLite)."""
    if not db:
        yield ""
        return
    import psycopg

    dsn = db.replace("postgresql+psycopg://", "postgresql://")
    schema = "bench_" + uuid.uuid4().hex[:10]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield dsn + ("&" if "?" in dsn else "?") + f"options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def measure_ceiling_pg(rows: int, payload: float, ref: float, db: str) -> dict[str, Any]:
    """Plain rows of the same size, binary COPY in one transaction into an unlogged table with
    the same two indexes as (c) on SQLite; refs random like Portico's blind indexes."""
    import psycopg

    with (
        fresh_schema(db) as url,
        psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn,
    ):
        conn.execute(
            "CREATE UNLOGGED TABLE r (id bigserial PRIMARY KEY, source text, kind text, ref text, "
            "student_ref text, day date, key_id text, digest bytea, payload bytea, valid_from int)"
        )
        conn.execute("CREATE UNIQUE INDEX ix_r_ref ON r (source, kind, ref, valid_from)")
        conn.execute("CREATE INDEX ix_r_student ON r (student_ref, kind, day)")
        conn.commit()
        blob = os.urandom(int(payload))
        day = dt.date(2026, 9, 1)
        t0 = time.perf_counter()
        with conn.cursor() as cur:
            cols = "source, kind, ref, student_ref, day, key_id, digest, payload, valid_from"
            with cur.copy(f"COPY r ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["text", "text", "text", "text", "date", "text", "bytea", "bytea", "int4"])
                for _ in range(rows):
                    r = base64.urlsafe_b64encode(os.urandom(16)).decode()[: int(ref)]
                    copy.write_row(
                        ("sis", "attendance", r, r[-8:], day, "dk_0123456789abcdef", blob[:16], blob, 1)
                    )
        conn.commit()
        seconds = time.perf_counter() - t0
    return {"records": rows, "seconds": seconds}


def measure_dashboard(db: str, workdir: str, students: int, seconds: int) -> dict[str, Any]:
    """The parents' dashboard of scripts/bench_api (32 parents, 4 routes each) served by
    uvicorn on the cache (a) synced, loaded with wrk (or httpx without it) for ``seconds``."""
    from bench_api import dashboard, run_httpx, run_wrk, serve

    from cache.read.reader import Principal, Reader
    from cache.snapshots.runs import load_state
    from cache.store import open_cache
    from config.secrets import SecretResolver
    from config.settings import PorticoConfig
    from gateway.access import accounts, sessions

    base = Path(workdir)
    raw = config_raw(base, db)
    (base / "config.json").write_text(json.dumps(raw))
    config = PorticoConfig.model_validate(raw)
    cache = open_cache(config, SecretResolver(base_dir=base))
    from cache.maintenance import refresh_statistics

    refresh_statistics(cache.engine)  # as every process does after a publish (the sync hook)
    s = spec(students)
    from simulators.district.synthetic import SyntheticDistrict

    district = SyntheticDistrict(s)
    pairs: list[tuple[str, str]] = []
    with cache.engine.begin() as conn:
        state = load_state(conn, "sis")
        assert state is not None and state.published_run is not None
        reader = Reader(conn, cache.keyring)
        seen: set[str] = set()
        for link in district.iter("link"):
            if link.contact_id in seen:
                continue
            seen.add(link.contact_id)
            cref = cache.keyring.index.ref("sis", "contact", link.contact_id)
            account_id = accounts.create(
                conn, cache.keyring, role="guardian", source="sis", subject_ref=cref,
                username=f"bench-{link.contact_id}@example.org", aup_version=config.access.aup.version,
            )  # fmt: skip
            # Sessions are made directly (argon2 at sign-in is not what is measured): active, no password.
            accounts.set_fields(conn, account_id, status="active", aup_accepted_at=dt.datetime.now(dt.UTC))
            kids = reader.students(
                Principal(account_id, "guardian", "sis", cref), state.published_run, s.today
            )
            if kids:
                token, _ = sessions.create(conn, account_id, config.access)
                pairs.append((token, kids[0].ref))
            if len(pairs) == 32:
                break
    cache.dispose()
    requests = [(tok, path) for tok, sid in pairs for path in dashboard(sid)]
    proc, url = serve("portico", base)
    try:
        import httpx

        for tok, path in requests[:8]:
            r = httpx.get(url + path, headers={"Authorization": f"Bearer {tok}"}, timeout=30)
            assert r.status_code == 200, (path, r.status_code)
        if shutil.which("wrk"):
            return run_wrk(url, requests, seconds, 32, base)
        return run_httpx(url, requests, seconds, 32)
    finally:
        proc.terminate()
        proc.wait()


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of a local process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def copy_batches(db: str, total: int = 20_000, sizes: tuple[int, ...] = (16, 64, 256, 2000)) -> str:
    """COPY against executemany for the staging writes, per batch size: CPU per row of this
    process and of its PostgreSQL backend (same machine), median of three alternating runs.
    CPU, unlike wall time, holds still on a busy machine."""
    import statistics

    from cache.db import make_engine
    from cache.migrations import runner as migrations
    from cache.snapshots.staging import copy_rows, insert_rows

    def rows(n: int, run: int) -> list[tuple[object, ...]]:
        blob = os.urandom(200)
        day, stamp = dt.date(2026, 9, 1), dt.datetime(2026, 9, 1, 8)
        return [
            ("sis", "attendance", os.urandom(11).hex(), "s" * 22, None, None, day, stamp, None, None,
             None, None, None, "dk_0123456789abcdef", os.urandom(16), blob, run, None)
            for _ in range(n)
        ]  # fmt: skip

    lines = [
        "| rows per batch | executemany µs/row (client + server) | COPY µs/row (client + server) |",
        "| --- | --- | --- |",
    ]
    with fresh_schema(db) as url:
        migrations.upgrade(url, url)
        engine = make_engine(url)
        run = 0
        try:
            for n in sizes:
                got: dict[str, list[tuple[float, float]]] = {"insert": [], "copy": []}
                for _ in range(3):
                    for mode in ("insert", "copy"):
                        run += 1
                        batches = [rows(n, run) for _ in range(total // n)]
                        with engine.connect() as conn:
                            pid = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
                            if mode == "copy":
                                copy_rows(conn, rows(1, -run))  # the temporary table, made once per session
                            server0, client0 = _cpu_of(pid), time.process_time()
                            for batch in batches:
                                if mode == "copy":
                                    copy_rows(conn, batch, create=False)
                                else:
                                    insert_rows(conn, batch)
                            conn.commit()
                            client, server = time.process_time() - client0, _cpu_of(pid) - server0
                        got[mode].append((client / total * 1e6, server / total * 1e6))
                cells = []
                for mode in ("insert", "copy"):
                    c = statistics.median(x for x, _ in got[mode])
                    sv = statistics.median(y for _, y in got[mode])
                    cells.append(f"{c + sv:.0f} ({c:.0f} + {sv:.0f})")
                lines.append(f"| {n:,} | {cells[0]} | {cells[1]} |")
                print(lines[-1], flush=True)
        finally:
            engine.dispose()
    return "\n".join(lines)


def child(mode: str, students: int, base_url: str, extra: str, db: str = "", workdir: str = "") -> None:
    if mode == "http":
        print(json.dumps(measure_http(students, base_url, db, workdir)))
    elif mode == "replay":
        print(json.dumps(measure_replay(students, base_url, db)))
    elif mode == "dashboard":
        print(json.dumps(measure_dashboard(db, workdir, students, int(extra))))
    else:
        rows, payload, ref = (float(x) for x in extra.split(","))
        if db:
            print(json.dumps(measure_ceiling_pg(int(rows), payload, ref, db)))
        else:
            print(json.dumps(measure_ceiling(int(rows), payload, ref)))


def run_child(
    mode: str,
    students: int,
    base_url: str,
    extra: str = "",
    db: str = "",
    workdir: str = "",
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
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
            "--db",
            db,
            "--workdir",
            workdir,
        ],
        env={**os.environ, **(env or {})},
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
    ap.add_argument(
        "--db", default="", help="A PostgreSQL database (postgresql://...) to sync into instead of SQLite"
    )
    ap.add_argument("--no-replay", action="store_true", help="Skip (b), the replayed-pages measurement")
    ap.add_argument(
        "--ab-copy", action="store_true", help="With --db: (a) once more with COPY off (executemany only)"
    )
    ap.add_argument(
        "--dashboard-seconds", type=int, default=10, help="With --db: length of the dashboard load"
    )
    ap.add_argument(
        "--copy-batches",
        action="store_true",
        help="With --db: only the COPY-against-executemany CPU comparison per batch size",
    )
    ap.add_argument(
        "--today",
        type=dt.date.fromisoformat,
        help="Sync the school year up to this date (YYYY-MM-DD) instead of the full year",
    )
    ap.add_argument(
        "--rss",
        default="",
        help="Only (a) at these sizes, e.g. 500,2000,5000: peak RSS and process CPU per record "
        "of each sync (a process of its own), as a table",
    )
    ap.add_argument("--child")
    ap.add_argument("--url", default="")
    ap.add_argument("--extra", default="")
    ap.add_argument("--workdir", default="")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    if args.today:
        os.environ["PORTICO_BENCH_TODAY"] = args.today.isoformat()
    if args.child:
        child(args.child, args.students, args.url, args.extra, args.db, args.workdir)
        return
    db = args.db
    if db.startswith("postgresql+psycopg://"):
        db = "postgresql://" + db[len("postgresql+psycopg://") :]
    if args.copy_batches:
        if not db:
            sys.exit("--copy-batches needs --db postgresql://...")
        text = copy_batches(db)
        if args.out:
            Path(args.out).write_text(text + "\n")
        return
    if args.rss:
        text = rss_table(sorted({int(s) for s in args.rss.split(",") if s}), db)
        print("\n" + text)
        if args.out:
            Path(args.out).write_text(text + "\n")
        return
    sizes = sorted({args.students, *(int(s) for s in args.sizes.split(",") if s)})
    results: dict[int, dict[str, Any]] = {}
    for n in sizes:
        proc, url = start_simulator(n)
        try:
            print(f"[{n} students] (a) end to end over loopback HTTP ...", flush=True)
            with tempfile.TemporaryDirectory() as tmp, fresh_schema(db) as pg:
                keep = n == args.students and bool(db)
                a = run_child("http", n, url, db=pg, workdir=tmp if keep else "")
                print(
                    f"    {a['records']:,} records in {a['seconds']:.1f}s = {a['records'] / a['seconds']:,.0f}/s; "
                    f"process CPU {a['cpu']:.1f}s; peak RSS {a['rss_mb']:.0f} MB",
                    flush=True,
                )
                results[n] = {"a": a}
                if keep:
                    print(f"[{n} students] dashboard p99 on that cache ...", flush=True)
                    d = run_child("dashboard", n, url, str(args.dashboard_seconds), db=pg, workdir=tmp)
                    print(
                        f"    {d['rps']:,.0f} req/s, p50 {d['p50']:.1f} ms, p99 {d['p99']:.1f} ms", flush=True
                    )
                    results[n]["dashboard"] = d
            if n != args.students:
                continue
            if db and args.ab_copy:
                print(f"[{n} students] (a') the same with COPY off (executemany) ...", flush=True)
                with fresh_schema(db) as pg:
                    a2 = run_child("http", n, url, db=pg, env={"PORTICO_BENCH_NO_COPY": "1"})
                print(f"    {a2['records'] / a2['seconds']:,.0f}/s; process CPU {a2['cpu']:.1f}s", flush=True)
                results[n]["a_nocopy"] = a2
            if not args.no_replay:
                print(
                    f"[{n} students] (b) replayed pages: normalize → encrypt → write → publish ...",
                    flush=True,
                )
                b = run_child("replay", n, url, db=db)
                print(f"    {b['records'] / b['seconds']:,.0f}/s", flush=True)
                results[n]["b"] = b
            row_bytes, ref_len = a["avg_payload"], a["avg_ref"]
            how = "binary COPY into an unlogged table" if db else "executemany"
            print(
                f"[{n} students] (c) ceiling: {a['records']:,} plain rows of {row_bytes:.0f} B, {how} ...",
                flush=True,
            )
            c = run_child("ceiling", n, url, f"{a['records']},{row_bytes},{ref_len}", db=db)
            print(f"    {c['records'] / c['seconds']:,.0f}/s", flush=True)
            results[n]["c"] = c
        finally:
            proc.terminate()
            proc.wait()
    text = report(results, args.students, db)
    print("\n" + text)
    if args.out:
        Path(args.out).write_text(text + "\n")


def rss_table(sizes: list[int], db: str) -> str:
    """(a) alone at each size: peak RSS and the sync process's CPU per record. Both hold
    still on a busy machine (wall time does not), so a quick check of flat memory."""
    lines = [
        f"Peak RSS by district size, {dt.date.today()}, {'PostgreSQL' if db else 'SQLite'} cache, "
        f"{year_so_far()}, first load over loopback HTTP:",
        "",
        "| students | records | sync process CPU, s | CPU µs per record | peak RSS |",
        "| --- | --- | --- | --- | --- |",
    ]
    for n in sizes:
        proc, url = start_simulator(n)
        try:
            with fresh_schema(db) as pg:
                a = run_child("http", n, url, db=pg)
        finally:
            proc.terminate()
            proc.wait()
        lines.append(
            f"| {n:,} | {a['records']:,} | {a['cpu']:.1f} | {a['cpu'] / a['records'] * 1e6:.0f} | {a['rss_mb']:.0f} MB |"
        )
        print(lines[-1], flush=True)
    return "\n".join(lines)


def _rate(m: dict[str, Any]) -> str:
    return f"{m['records'] / m['seconds']:,.0f}"


def report(results: dict[int, dict[str, Any]], main_n: int, db: str) -> str:
    r = results[main_n]
    a, c = r["a"], r["c"]
    engine = "PostgreSQL cache" if db else "SQLite cache"
    ceiling = "binary COPY into an unlogged table" if db else "executemany, one transaction"
    lines = [
        f"Sync benchmark, {dt.date.today()}, district of {main_n:,} students with {year_so_far()} "
        f"({a['records']:,} records), {engine}:",
        "",
        "| measurement | records/s | seconds | process CPU s | peak RSS |",
        "| --- | --- | --- | --- | --- |",
        f"| (a) end to end from the simulator over loopback HTTP | {_rate(a)} | {a['seconds']:.1f} | {a['cpu']:.1f} | {a['rss_mb']:.0f} MB |",
    ]
    if "a_nocopy" in r:
        x = r["a_nocopy"]
        lines.append(
            f"| (a') the same, COPY off (executemany) | {_rate(x)} | {x['seconds']:.1f} | {x['cpu']:.1f} | {x['rss_mb']:.0f} MB |"
        )
    if "b" in r:
        b = r["b"]
        lines.append(
            f"| (b) Portico's own cost: replayed pages → normalize → encrypt → write → publish | {_rate(b)} | {b['seconds']:.1f} | {b['cpu']:.1f} | {b['rss_mb']:.0f} MB |"
        )
    lines += [
        f"| (c) ceiling: plain rows of the same size ({a['avg_payload']:.0f} B), {ceiling}, same indexes | {_rate(c)} | {c['seconds']:.1f} | | |",
        "",
        f"(a)/(c) = {(a['records'] / a['seconds']) / (c['records'] / c['seconds']):.0%}"
        + (
            f"; (b)/(c) = {(r['b']['records'] / r['b']['seconds']) / (c['records'] / c['seconds']):.0%} (target ≥ 40%)."
            if "b" in r
            else "."
        ),
    ]
    if "dashboard" in r:
        d = r["dashboard"]
        lines += [
            "",
            f"Parents' dashboard on that cache (32 clients, the 4 routes of scripts/bench_api): "
            f"{d['rps']:,.0f} req/s, p50 {d['p50']:.1f} ms, p99 {d['p99']:.1f} ms, {d['errors']:.0f} errors.",
        ]
    if len(results) > 1:
        lines += [
            "",
            "Peak RSS of (a) by district size (flat = streaming): "
            + ", ".join(
                f"{n:,} students ({x['a']['records']:,} records) {x['a']['rss_mb']:.0f} MB"
                for n, x in sorted(results.items())
            ),
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
