"""Two `portico api` replicas and two `portico worker`s on one PostgreSQL cache, behind HAProxy.

Used by ``tests/integration/test_replicas.py`` (bounded) and ``scripts/replicas`` (longer,
more readers). Every process is the real CLI (``python -m tests.support.fake_source``: the
``portico`` command with the file-driven test source installed); HAProxy is Debian's
(``scripts/setup_haproxy``), with a config generated into the work folder:

- round robin over the two replicas, each health-checked on ``/readyz``;
- ``retry-on conn-failure empty-response junk-response response-timeout`` with ``retries 3``
  and ``option redispatch 1``: a GET whose replica refuses the connection, or closes it
  without a whole response head, is sent again to the other replica. Other methods are
  retried only on a connection failure (nothing reached the replica), never after it may
  have acted. What no balancer can retry is a GET whose answer had begun to reach the
  client when its replica died (HAProxy's termination state ``SD``);
- every request HAProxy forwards is logged with the reader's request id, the replica, the
  retries and the termination state, so each failed GET is told apart: one the balancer
  could have retried fails the run, one whose answer was cut in flight is reported. HAProxy
  writes that log without blocking and counts the lines it drops (about one in 8,000 here);
  a failed GET whose line is missing counts as one it could have retried.

One run proves, in order:

1. the schema is upgraded once when both replicas' start-up scripts run `portico db upgrade`
   at the same instant;
2. a session made by signing in through one replica works on the other, and signing out
   through the other ends it on both;
3. sign-in failures through both replicas add up to one throttle;
4. both replicas append to one audit chain (reads of two accounts, one through each
   replica; `portico audit verify` passes);
5. while readers load both replicas through HAProxy, the workers keep publishing snapshots
   of two alternating versions of the source: every response's ``meta.as_of`` (the
   snapshot it was read from) names one version only, the one its record shows;
6. one replica is killed with SIGKILL under that load: failed GETs out of the total, none
   that HAProxy could have retried (at most one in flight per reader, its answer cut);
7. the two workers never sync the connector at the same time (the scheduler lock).
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from tests.support import REPO
from tests.support.clock import wait_until
from tests.support.config import key_file, raw_config, write_yaml
from tests.support.fake_source import MODULE, records, write_state
from tests.support.net import free_port

PASSWORD = "Correct horse battery 9"
VERSIONS = ("a", "b")


def haproxy_binary() -> str | None:
    return shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if Path(p).exists()), None
    )


LOG_TAG = "portico-request"
REQUEST_ID = "X-Request-Id"
# HAProxy's termination state of a request whose replica died while its answer was being
# sent to the client: the head had gone, so no balancer could send it again.
CUT_IN_FLIGHT = "SD"


def haproxy_requests(log: str) -> dict[str, dict[str, str]]:
    """HAProxy's request lines (``haproxy_config``'s log format) by the reader's request id."""
    out = {}
    for line in log.splitlines():
        if line.startswith(LOG_TAG + " "):
            fields = dict(part.split("=", 1) for part in line.split()[1:] if "=" in part)
            out[fields.get("id", "")] = fields
    return out


def haproxy_config(front: int, backends: dict[str, int], stats_socket: Path) -> str:
    servers = "\n".join(f"  server {name} 127.0.0.1:{port} check" for name, port in backends.items())
    return f"""global
  maxconn 512
  stats socket {stats_socket} mode 600 level admin
  log stdout format raw local0 info

defaults
  mode http
  log global
  # One line a request: the reader's id, the replica, retries and the termination state.
  log-format "{LOG_TAG} id=%[capture.req.hdr(0)] srv=%s status=%ST retries=%rc state=%ts"
  timeout connect 1s
  timeout client 30s
  timeout server 10s
  timeout check 2s
  retries 3
  option redispatch 1
  retry-on conn-failure empty-response junk-response response-timeout

frontend portico
  bind 127.0.0.1:{front}
  http-request capture req.hdr({REQUEST_ID}) len 40
  default_backend api

backend api
  balance roundrobin
  option forwardfor
  # A request that may have acted is never sent twice: only GET and HEAD are retried after
  # reaching a replica; any method is retried when the connection itself failed.
  http-request disable-l7-retry if !METH_GET !METH_HEAD
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 300ms fall 2 rise 2
{servers}
"""


def haproxy_command(sock: Path, command: str) -> str:
    """What HAProxy's stats socket answers ``command``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(sock))
        s.sendall(command.encode() + b"\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data.decode()


def dropped_logs(sock: Path) -> int:
    """The log lines HAProxy could not write (``show info``'s DroppedLogs)."""
    info = dict(
        line.split(": ", 1) for line in haproxy_command(sock, "show info").splitlines() if ": " in line
    )
    return int(info.get("DroppedLogs", "0"))


def haproxy_stats(sock: Path) -> dict[str, dict[str, str]]:
    """``show stat`` rows by server name (and BACKEND/FRONTEND)."""
    lines = haproxy_command(sock, "show stat").splitlines()
    header = lines[0].lstrip("# ").split(",")
    out = {}
    for line in lines[1:]:
        if line.strip():
            row = dict(zip(header, line.split(","), strict=False))
            out[f"{row['pxname']}/{row['svname']}"] = row
    return out


@dataclass
class Report:
    upgrade_outputs: list[str] = field(default_factory=list)
    cache_revisions: list[str] = field(default_factory=list)
    session_shared: bool = False
    logout_shared: bool = False
    throttled_after: int = 0  # sign-in failures (alternating replicas) before the first 429
    throttle_failures_recorded: int = 0
    audit_accounts: dict[str, int] = field(default_factory=dict)  # replica → audit rows of its reader
    audit_verify: str = ""
    requests: int = 0
    failed: int = 0
    logged: int = 0  # the readers' GETs found in HAProxy's request log
    unlogged: list[str] = field(default_factory=list)  # (the first of) those not found
    cut_in_flight: int = 0  # of those, answers cut by the kill after their head had gone (no retry possible)
    failures: list[str] = field(default_factory=list)
    before_kill: int = 0
    after_kill: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    snapshots_seen: int = 0
    versions_by_snapshot: dict[str, list[str]] = field(default_factory=dict)
    mixed: list[str] = field(default_factory=list)
    haproxy_retries: int = 0
    haproxy_redispatches: int = 0
    haproxy_dropped_logs: int = 0  # request lines HAProxy could not write (its own count)
    runs: int = 0
    overlapping_runs: int = 0
    published_per_worker: list[int] = field(default_factory=list)
    skipped_locked: int = 0
    worker_exit: list[int | None] = field(default_factory=list)


PAGE_SIZE = 25
SYNC_INTERVAL = 1  # seconds between each worker's sync attempts


def contended_delay(students: int) -> float:
    """A delay per page that makes one sync sleep at least 1.5 sync intervals, so the other
    worker's attempt always meets the lock (the lock is exercised, not only never needed)."""
    pages = sum(-(-len(rows) // PAGE_SIZE) for rows in records(students, "a").values())
    return 1.5 * SYNC_INTERVAL / max(pages, 1)


class Cluster:
    """The processes of one run, stopped by :meth:`close` (SIGTERM, then SIGKILL)."""

    def __init__(self, workdir: Path, pg_url: str, students: int, page_delay: float) -> None:
        self.workdir = workdir
        self.pg_url = pg_url
        self.state = workdir / "source.json"
        write_state(self.state, students, "a")
        sis = {
            "name": "sis",
            "type": "fake",
            "options": {
                "state_file": str(self.state),
                "page_size": PAGE_SIZE,
                "page_delay": max(page_delay, contended_delay(students)),
            },
            "schedule": {"interval": SYNC_INTERVAL},
        }
        raw = raw_config(workdir, pg_url, connectors=[sis], logging={"format": "json"})
        # Keys in the same PostgreSQL database: every replica and worker reads one keystore.
        raw["cache"] = {"url": pg_url, "kek": {"file": str(key_file(workdir))}}
        raw["api"] = {"trusted_proxies": ["127.0.0.1/32"]}  # HAProxy, on loopback here
        self.config = write_yaml(workdir / "portico.yaml", raw)
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self.logs: dict[str, Path] = {}
        self.ports: dict[str, int] = {}
        self.front = 0
        self.stats_socket = workdir / "haproxy.sock"

    def cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", MODULE, "--config", str(self.config), *args]

    def start(self, name: str, cmd: list[str]) -> subprocess.Popen[str]:
        log = self.workdir / f"{name}.log"
        self.logs[name] = log
        out = log.open("w")
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, text=True)
        out.close()
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        return self.logs[name].read_text()

    def upgrade_together(self) -> list[str]:
        """Both replicas' start-up step, `portico db upgrade`, launched at the same instant."""
        procs = [
            subprocess.Popen(
                self.cli("db", "upgrade"),
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(2)
        ]
        outs = [p.communicate(timeout=120)[0] for p in procs]
        for p, out in zip(procs, outs, strict=True):
            assert p.returncode == 0, out
        return outs

    def sync_once(self) -> None:
        out = subprocess.run(
            self.cli("sync"), cwd=REPO, capture_output=True, text=True, timeout=120, check=False
        )
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]

    def start_replicas(self) -> None:
        for name in ("api-a", "api-b"):
            self.ports[name] = free_port()
            self.start(name, self.cli("api", "--port", str(self.ports[name])))
        for name, port in self.ports.items():
            wait_until(lambda p=port: ready(f"http://127.0.0.1:{p}"), 60, f"{name} answering /readyz")

    def start_haproxy(self, binary: str) -> None:
        self.front = free_port()
        cfg = self.workdir / "haproxy.cfg"
        cfg.write_text(
            haproxy_config(
                self.front, {"a": self.ports["api-a"], "b": self.ports["api-b"]}, self.stats_socket
            )
        )
        check = subprocess.run([binary, "-c", "-f", str(cfg)], capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stdout + check.stderr
        self.start("haproxy", [binary, "-db", "-f", str(cfg)])
        wait_until(lambda: ready(self.url()), 30, "HAProxy passing requests to a replica")
        # Both servers up before any load: a request is never sent to one still marked down.
        wait_until(
            lambda: all(haproxy_stats(self.stats_socket)[f"api/{s}"]["status"] == "UP" for s in ("a", "b")),
            30,
            "HAProxy's health checks passing on both replicas",
        )

    def start_workers(self) -> None:
        for name in ("worker-1", "worker-2"):
            self.start(name, self.cli("worker"))

    def url(self, replica: str | None = None) -> str:
        return f"http://127.0.0.1:{self.ports[replica] if replica else self.front}"

    def stop(self, name: str, timeout: float = 30) -> int | None:
        proc = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def close(self) -> None:
        for name in list(self.procs):
            self.stop(name)


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _open(cluster: Cluster) -> Any:
    from cache.store import open_cache
    from config.loader import load
    from config.secrets import SecretResolver

    return open_cache(load(str(cluster.config)).config, SecretResolver(base_dir=cluster.workdir))


def _accounts(cache: Any, n: int) -> dict[str, str]:
    """Contacts c0..c{n-1}'s guardian accounts (made by provisioning after the first sync),
    activated as an invitation would: username → account id."""
    from cache.types import utcnow
    from gateway.access import accounts
    from gateway.access.security import hash_password

    out = {}
    hashed = hash_password(PASSWORD)
    with cache.engine.begin() as conn:
        for i in range(n):
            account = accounts.find_by_subject(
                conn, "sis", cache.keyring.index.ref("sis", "contact", f"c{i}")
            )
            assert account is not None, f"no account provisioned for contact c{i}"
            accounts.set_fields(
                conn,
                account.id,
                status="active",
                password_hash=hashed,
                password_changed_at=utcnow(),
                aup_version=cache.config.access.aup.version,
                aup_accepted_at=utcnow(),
            )
            out[accounts.username_of(cache.keyring, account)] = account.id
    return out


def _bearer(cache: Any, account_id: str) -> dict[str, str]:
    from gateway.access import sessions

    with cache.engine.begin() as conn:
        token, _ = sessions.create(conn, account_id, cache.config.access)
    return {"Authorization": f"Bearer {token}"}


def _student_of(url: str, headers: dict[str, str]) -> str:
    r = httpx.get(f"{url}/v1/students", headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    return str(r.json()["data"][0]["id"])


def check_sessions(cluster: Cluster, ids: dict[str, str], report: Report) -> None:
    names = list(ids)  # in contact order: c0, c1, ...
    a, b = cluster.url("api-a"), cluster.url("api-b")
    r = httpx.post(f"{a}/v1/auth/login", json={"username": names[0], "password": PASSWORD}, timeout=30)
    assert r.status_code == 200, r.text
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    report.session_shared = httpx.get(f"{b}/v1/me", headers=headers, timeout=10).status_code == 200
    out = httpx.post(f"{b}/v1/auth/logout", headers=headers, timeout=10)
    assert out.status_code == 204, out.text
    report.logout_shared = httpx.get(f"{a}/v1/me", headers=headers, timeout=10).status_code == 401


def check_throttle(cluster: Cluster, cache: Any, ids: dict[str, str], report: Report) -> None:
    """Wrong passwords for one username, alternating replicas, until one answers 429."""
    names = list(ids)
    from cache.tables.accounts import LoginThrottle
    from cache.tables.core import core_table

    urls = [cluster.url("api-a"), cluster.url("api-b")]
    body = {"username": names[1], "password": "not the password 1"}
    for attempt in range(24):
        r = httpx.post(f"{urls[attempt % 2]}/v1/auth/login", json=body, timeout=30)
        if r.status_code == 429:
            report.throttled_after = attempt
            break
        assert r.status_code == 401, r.text
    table = core_table(LoginThrottle)
    with cache.engine.connect() as conn:
        report.throttle_failures_recorded = int(
            conn.execute(text(f"SELECT max(failures) FROM {table.name} WHERE key LIKE 'u%'")).scalar() or 0
        )


def check_audit(cluster: Cluster, cache: Any, ids: dict[str, str], report: Report) -> None:
    """Contact c2 reads only through replica a, c3 only through b; both land in one chain."""
    names = list(ids)
    readers = {"api-a": names[2], "api-b": names[3]}
    for replica, username in readers.items():
        headers = _bearer(cache, ids[username])
        student = _student_of(cluster.url(replica), headers)
        for _ in range(5):
            r = httpx.get(f"{cluster.url(replica)}/v1/students/{student}", headers=headers, timeout=10)
            assert r.status_code == 200, r.text
    time.sleep(1.0)  # audit appends are batched: let both replicas flush
    with cache.engine.connect() as conn:
        for replica, username in readers.items():
            report.audit_accounts[replica] = int(
                conn.execute(
                    text("SELECT count(*) FROM audit_event WHERE actor_id = :a"), {"a": ids[username]}
                ).scalar()
                or 0
            )
    out = subprocess.run(
        cluster.cli("audit", "verify"), cwd=REPO, capture_output=True, text=True, check=False
    )
    report.audit_verify = f"exit {out.returncode}: {out.stdout.strip()[-300:]}"


def load(
    cluster: Cluster,
    cache: Any,
    ids: dict[str, str],
    report: Report,
    *,
    readers: int,
    seconds: float,
    kill_at: float,
) -> None:
    """``readers`` threads GET student profiles through HAProxy for ``seconds``; the source
    alternates versions meanwhile; replica a is SIGKILLed ``kill_at`` seconds in."""
    usernames = list(ids)[4 : 4 + readers]
    sessions = [_bearer(cache, ids[u]) for u in usernames]
    front = cluster.url()
    students = [_student_of(front, h) for h in sessions]
    # (t, status, as_of, homeroom, request id)
    results: list[tuple[float, str, str | None, str | None, str]] = []
    lock = threading.Lock()
    stop = threading.Event()
    killed_at: list[float] = []

    def reader(i: int) -> None:
        with httpx.Client(base_url=front, headers=sessions[i], timeout=15) as client:
            n = 0
            while not stop.is_set():
                t = time.monotonic()
                n += 1
                rid = f"r{i}-{n}"
                try:
                    r = client.get(f"/v1/students/{students[i]}", headers={REQUEST_ID: rid})
                except httpx.TransportError as exc:
                    with lock:
                        results.append((t, type(exc).__name__, None, None, rid))
                    continue
                as_of = homeroom = None
                if r.status_code == 200:
                    body = r.json()
                    as_of, homeroom = body["meta"]["as_of"], body["data"]["homeroom"]
                with lock:
                    results.append((t, str(r.status_code), as_of, homeroom, rid))

    threads = [threading.Thread(target=reader, args=(i,), daemon=True) for i in range(readers)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    flip = 0
    students_n = json.loads(cluster.state.read_text())["students"]
    while time.monotonic() - t0 < seconds:
        if not killed_at and time.monotonic() - t0 >= kill_at:
            cluster.procs["api-a"].send_signal(signal.SIGKILL)
            killed_at.append(time.monotonic())
        flip += 1
        write_state(cluster.state, students_n, VERSIONS[flip % 2])
        time.sleep(0.7)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    cluster.procs["api-a"].wait(timeout=10)

    report.requests = len(results)
    statuses = Counter(status for _, status, *_ in results)
    report.by_status = dict(statuses)
    bad = [(t, s, rid) for t, s, _, _, rid in results if s != "200"]
    report.failed = len(bad)
    cut = killed_at[0] if killed_at else float("inf")
    # HAProxy writes a request's line once the request has ended, after its answer has left:
    # the last answers' lines may follow the readers' stop by a moment. Its log on stdout is
    # written without blocking, and a line it could not write is counted as dropped.
    sent = {rid for *_, rid in results}
    deadline = time.monotonic() + 10
    while True:
        logged = haproxy_requests(cluster.log("haproxy"))
        report.haproxy_dropped_logs = dropped_logs(cluster.stats_socket)
        if len(sent - logged.keys()) <= report.haproxy_dropped_logs or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    report.logged = sum(1 for *_, rid in results if rid in logged)
    report.unlogged = [
        f"{rid} at {t - cut:+.2f}s from the kill, {s}" for t, s, *_, rid in results if rid not in logged
    ][:10]
    states = {rid: logged.get(rid, {}).get("state", "unlogged") for _, _, rid in bad}
    report.cut_in_flight = sum(1 for state in states.values() if state == CUT_IN_FLIGHT)
    report.failures = [
        f"{s} at {t - cut:+.2f}s from the kill (HAProxy: {states[rid]})" for t, s, rid in bad[:20]
    ]
    report.before_kill = sum(1 for t, *_ in results if t < cut)
    report.after_kill = report.requests - report.before_kill
    versions: dict[str, set[str]] = defaultdict(set)
    for _, s, as_of, homeroom, _ in results:
        if s == "200" and as_of is not None and homeroom is not None:
            versions[as_of].add(homeroom)
    report.snapshots_seen = len(versions)
    report.versions_by_snapshot = {k: sorted(v) for k, v in sorted(versions.items())}
    report.mixed = [f"{k}: {sorted(v)}" for k, v in versions.items() if len(v) > 1]
    stats = haproxy_stats(cluster.stats_socket)["api/BACKEND"]
    report.haproxy_retries = int(stats.get("wretr") or 0)
    report.haproxy_redispatches = int(stats.get("wredis") or 0)


def check_workers(cluster: Cluster, cache: Any, report: Report) -> None:
    report.worker_exit = [cluster.stop(w, timeout=60) for w in ("worker-1", "worker-2")]
    with cache.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT started_at, finished_at FROM sync_run WHERE finished_at IS NOT NULL ORDER BY started_at"
            )
        ).all()
    report.runs = len(rows)
    report.overlapping_runs = sum(
        1 for (_, end), (start, _) in zip(rows, rows[1:], strict=False) if start < end
    )
    for w in ("worker-1", "worker-2"):
        events = [json.loads(line) for line in cluster.log(w).splitlines() if line.startswith("{")]
        report.published_per_worker.append(
            sum(1 for e in events if e.get("event") == "sync.finished" and e.get("status") == "published")
        )
        report.skipped_locked += sum(
            1 for e in events if e.get("event") == "sync.skipped" and e.get("reason") == "locked"
        )


def run(
    workdir: Path,
    pg_url: str,
    *,
    students: int = 40,
    readers: int = 4,
    seconds: float = 20.0,
    kill_at: float = 8.0,
    page_delay: float = 0.02,
) -> Report:
    binary = haproxy_binary()
    assert binary, "haproxy is not installed (scripts/setup_haproxy)"
    report = Report()
    cluster = Cluster(workdir, pg_url, students, page_delay)
    cache = None
    try:
        report.upgrade_outputs = cluster.upgrade_together()
        cache = _open(cluster)
        with cache.engine.connect() as conn:
            report.cache_revisions = [
                r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))
            ]
        cluster.sync_once()
        ids = _accounts(cache, 4 + readers)
        cluster.start_replicas()
        cluster.start_haproxy(binary)
        cluster.start_workers()
        check_sessions(cluster, ids, report)
        check_throttle(cluster, cache, ids, report)
        check_audit(cluster, cache, ids, report)
        load(cluster, cache, ids, report, readers=readers, seconds=seconds, kill_at=kill_at)
        check_workers(cluster, cache, report)
    except BaseException:
        for name in cluster.logs:
            print(f"--- {name} (last lines)\n{cluster.log(name)[-1500:]}", file=sys.stderr)
        raise
    finally:
        cluster.close()
        if cache is not None:
            cache.dispose()
    return report


def summary(report: Report) -> str:
    return (
        f"SIGKILL of one replica under load: {report.failed} failed of {report.requests} GETs, "
        f"{report.cut_in_flight} of them cut in flight, {report.logged} in HAProxy's log "
        f"({report.haproxy_dropped_logs} lines it dropped) "
        f"({report.before_kill} before the kill, {report.after_kill} after; HAProxy retried "
        f"{report.haproxy_retries}, redispatched {report.haproxy_redispatches}); "
        f"{report.snapshots_seen} snapshots seen by readers, {len(report.mixed)} mixed; "
        f"{report.runs} sync runs by 2 workers, {report.overlapping_runs} overlapping "
        f"(published per worker {report.published_per_worker}, {report.skipped_locked} skipped by the lock)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--db",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="PostgreSQL database (a fresh schema is made in it and dropped after)",
    )
    ap.add_argument("--students", type=int, default=200)
    ap.add_argument("--readers", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument(
        "--kill-at", type=float, default=20.0, help="seconds into the load: replica a is SIGKILLed"
    )
    args = ap.parse_args()
    for name in ("students", "readers", "seconds"):
        if getattr(args, name) <= 0:
            ap.error(f"--{name} must be more than 0 (got {getattr(args, name)})")
    if not 0 <= args.kill_at < args.seconds:
        ap.error(f"--kill-at {args.kill_at:g} must fall inside the run: 0 to --seconds {args.seconds:g}")
    import tempfile

    import psycopg

    dsn = args.db.replace("postgresql+psycopg://", "postgresql://")
    schema = "replicas_" + uuid.uuid4().hex[:10]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'create schema "{schema}"')
    url = dsn.replace("postgresql://", "postgresql+psycopg://", 1)
    url += ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            report = run(
                Path(tmp),
                url,
                students=args.students,
                readers=args.readers,
                seconds=args.seconds,
                kill_at=args.kill_at,
            )
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'drop schema "{schema}" cascade')
    print(json.dumps({k: v for k, v in report.__dict__.items() if k != "versions_by_snapshot"}, indent=2))
    print(summary(report))
    ok = report.failed == report.cut_in_flight and not report.mixed and report.overlapping_runs == 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
