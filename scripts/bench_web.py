"""scripts/bench_web: the portal's pages vs the JSON dashboard and the trivial endpoint.

The district, the signed-in parents and the servers are scripts/bench_api's (its
harness, reused): one process serves Portico with the portal mounted, as `portico serve`
serves it (or --processes N, as `portico api --processes N`), another the trivial app,
served the same way; each measurement is 32 concurrent clients for a few seconds, after
one request of every client (a warm server), and the rounds alternate so drift on a
shared machine hits every endpoint alike. A parent's
session token is their portal cookie and their API bearer token: the same session.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.bench_api import (  # noqa: E402
    add_processes,
    asgi_get,
    build,
    dashboard,
    run_httpx,
    run_wrk,
    serve,
    tree_cpu,
)

COOKIE = ("Cookie", "portico_session=")
# Hand-written notes appended to the generated page (where the time goes).
NOTES = ROOT / "docs" / "PERFORMANCE-web-notes.md"
WEIGHT_LIMIT = 60_000
P99_LIMIT = 50.0


def page_weight(url: str, token: str, path: str) -> int:
    """HTML + CSS bytes of one page, as a browser with an empty cache fetches them."""
    cookies = {"portico_session": token}
    html = httpx.get(url + path, cookies=cookies)
    assert html.status_code == 200, (path, html.status_code)
    css = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html.text)
    return len(html.content) + sum(len(httpx.get(url + href).content) for href in css)


def measure(
    factory: str, base: Path, requests: list[tuple[str, str]], args: argparse.Namespace, *, cookie: bool
) -> dict[str, float]:
    header = COOKIE if cookie else ("Authorization", "Bearer ")
    proc, url = serve(factory, base, args.processes)
    try:
        # Every distinct request once, and a right answer to each (a fast redirect would measure
        # nothing): the measurement is of a warm server, whose memos of the published snapshot
        # (decrypted shared records, class timetables) hold every client's family already. The
        # first page of each family after a start or a publish costs more, once.
        for tok, path in dict.fromkeys(requests):
            r = httpx.get(url + path, headers={header[0]: header[1] + tok})
            assert r.status_code == 200, (path, r.status_code)
        before = tree_cpu(proc.pid)
        if shutil.which("wrk") and not args.httpx:
            result = run_wrk(url, requests, args.seconds, args.clients, base, header=header)
        else:
            assert not cookie, "the httpx fallback sends bearer tokens only: install wrk"
            result = run_httpx(url, requests, args.seconds, args.clients)
        result["cpu_us"] = (tree_cpu(proc.pid) - before) / (result["rps"] * args.seconds) * 1e6
        return result
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--students", type=int, default=200)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--seconds", type=int, default=6)
    p.add_argument("--rounds", type=int, default=3)
    add_processes(p, "portal")
    p.add_argument("--httpx", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--write", type=Path, default=None, help="write the results as Markdown to this file")
    p.add_argument(
        "--cpu",
        type=int,
        default=0,
        metavar="N",
        help="instead of the load run: N requests of each page through the app in this process "
        "(no server, no sockets), 32 at a time; print the CPU time per request, which another "
        "process's load barely moves (the A/B measure on a shared machine)",
    )
    p.add_argument(
        "--instructions",
        action="store_true",
        help="with --cpu: count the instructions per request under valgrind's callgrind "
        "(exact and independent of load; about fifty times slower)",
    )
    p.add_argument(
        "--digest",
        type=Path,
        metavar="FILE",
        help="instead of the load run: render every child page and the family home in each language, "
        "at a fixed clock, through the app in this process, and write each page's SHA-256 to FILE "
        "(with --bench-dir DIR: the district built there, or built there first, so the pages of two "
        "trees of the code can be compared byte for byte)",
    )
    p.add_argument(
        "--bench-dir",
        type=Path,
        metavar="DIR",
        help="with --digest or --cpu: the bench district in DIR (built there first if DIR holds none), "
        "with one instant of its own (DIR/clock.txt), so that two trees of the code render and count "
        "the same district at the same time. --cpu then runs on a fresh copy of DIR, with the "
        "pages' clock and the sessions' clock fixed at that instant (no session's last-seen write "
        "falls in a run), and its instruction counts repeat from run to run and compare between trees; "
        "without --bench-dir, --cpu builds a district of its own at the real clock",
    )
    p.add_argument("--counted", type=Path, help=argparse.SUPPRESS)  # --instructions' own run, under callgrind
    args = p.parse_args()
    # The command that reproduces this run, as its results page names it.
    args.command = " ".join(
        ["scripts/bench_web"]
        + [
            f"--{name} {getattr(args, name)}"
            for name in ("students", "clients", "seconds", "rounds", "processes")
            if getattr(args, name) != p.get_default(name)
        ]
        + ([f"--write {args.write}"] if args.write else [])
    )
    if args.digest:
        digest(args)
        return
    if args.counted:
        in_process(args.counted, args.cpu, args.clients, counted=True)
        return
    if args.cpu and args.bench_dir:
        district(args.bench_dir, args)
        with tempfile.TemporaryDirectory(prefix="portico-bench-web-") as tmp:
            copy = Path(tmp) / "district"
            shutil.copytree(args.bench_dir, copy, ignore=shutil.ignore_patterns("*.lock", "callgrind.out*"))
            cpu(copy, args)
        return
    base = Path(tempfile.mkdtemp(prefix="portico-bench-web-"))
    try:
        pairs = build(base, args.students, args.clients)
        if args.cpu:
            (base / "pairs.json").write_text(json.dumps(pairs))
            cpu(base, args)
            return
        loads = {
            "family home (/)": ("portal", [(tok, "/") for tok, _ in pairs], True),
            "attendance page (this month)": (
                "portal",
                [(tok, f"/children/{sid}/attendance") for tok, sid in pairs],
                True,
            ),
            "JSON dashboard (4 API routes)": (
                "portal",
                [(tok, path) for tok, sid in pairs for path in dashboard(sid)],
                False,
            ),
            "FastAPI trivial JSON": ("trivial", [(tok, "/trivial") for tok, _ in pairs], False),
        }
        proc, url = serve("portal", base, args.processes)
        try:
            weights = {
                "family home (/)": page_weight(url, pairs[0][0], "/"),
                "attendance page (this month)": page_weight(
                    url, pairs[0][0], f"/children/{pairs[0][1]}/attendance"
                ),
            }
        finally:
            proc.terminate()
            proc.wait()
        results: dict[str, list[dict[str, float]]] = {name: [] for name in loads}
        for n in range(args.rounds):
            for name, (factory, requests, cookie) in loads.items():
                results[name].append(measure(factory, base, requests, args, cookie=cookie))
            print(
                f"round {n + 1}: "
                + "; ".join(
                    f"{k} {v[-1]['rps']:,.0f}/s p99 {v[-1]['p99']:.1f} ms" for k, v in results.items()
                )
            )
        report(results, weights, args)
    finally:
        shutil.rmtree(base, ignore_errors=True)


PAGES = ("family home (/)", "attendance page (this month)", "JSON dashboard (4 API routes)")


def cpu(base: Path, args: argparse.Namespace) -> None:
    """``--cpu N``: each page's requests through the app in this process, on the district in
    ``base``; instructions under callgrind with ``--instructions``, else CPU time."""
    if args.instructions:
        instructions(base, args)
    else:
        in_process(base, args.cpu, args.clients, counted=False)


def in_process(base: Path, n: int, clients: int, *, counted: bool) -> None:
    """``n`` requests of each page through the ASGI app, ``clients`` at a time, in this process."""
    import asyncio

    os.environ["PORTICO_BENCH_DIR"] = str(base)
    from scripts.bench_api_app import portal

    app = portal()
    if (base / "clock.txt").exists():  # a district of --bench-dir: its own instant, for pages and sessions
        fix_clocks(app, dt.datetime.fromisoformat((base / "clock.txt").read_text()))
    pairs = [tuple(p) for p in json.loads((base / "pairs.json").read_text())]
    loads = {
        PAGES[0]: [(tok, "/", True) for tok, _ in pairs],
        PAGES[1]: [(tok, f"/children/{sid}/attendance", True) for tok, sid in pairs],
        PAGES[2]: [(tok, path, False) for tok, sid in pairs for path in dashboard(sid)],
    }

    async def call(tok: str, target: str, cookie: bool) -> None:
        auth = (
            (b"cookie", f"portico_session={tok}".encode())
            if cookie
            else (b"authorization", f"Bearer {tok}".encode())
        )
        status, _ = await asgi_get(app, target, [(b"accept-language", b"en-US"), auth])
        assert status == 200, (target, status)

    async def run(requests: list[tuple[str, str, bool]], count: int) -> None:
        queue = iter(range(count))

        async def client() -> None:
            for i in queue:
                await call(*requests[i % len(requests)])

        await asyncio.gather(*(client() for _ in range(clients)))

    async def measure() -> None:
        for name, requests in loads.items():
            await run(requests, 2 * clients)  # warm: templates compiled, snapshot caches filled
            if counted:  # counted by callgrind from here to the dump, then zeroed
                _callgrind("--instr=on")
                await run(requests, n)
                _callgrind("--instr=off")
                _callgrind(f"--dump=page{PAGES.index(name)}")
                continue
            times = []
            for _ in range(3):
                start = time.process_time()
                await run(requests, n)
                times.append((time.process_time() - start) / n * 1e6)
            print(
                f"{name}: {min(times):,.0f} µs CPU per request (best of 3 runs of {n}: {', '.join(f'{t:,.0f}' for t in times)})"
            )

    asyncio.run(measure())


DIGEST_PAGES = ("attendance", "attendance?month={last}", "timetable", "timetable?week={week}", "grades",
                "assignments", "behaviour", "notices", "reports")  # fmt: skip
DIGEST_LANGUAGES = ("en-US", "en-GB", "es")


def district(base: Path, args: argparse.Namespace) -> None:
    """The bench district in ``base`` (``--bench-dir``), built there first if it holds none."""
    if not (base / "pairs.json").exists():
        base.mkdir(parents=True, exist_ok=True)
        (base / "pairs.json").write_text(json.dumps(build(base, args.students, args.clients)))
        # One instant for every tree compared: the pages show "now" (next lessons, the data's age).
        # Written after the sessions were made, within their last-seen minute: at this instant no
        # request writes a session's last-seen time.
        (base / "clock.txt").write_text(dt.datetime.now(dt.UTC).isoformat())


def fix_clocks(app: Any, at: dt.datetime) -> None:
    """The app's clock (the pages' "now") and the sessions' (idle time, the last-seen write)
    fixed at ``at``, for this process."""
    from gateway.access import sessions

    app.state.portico.clock = lambda: at
    sessions.utcnow = lambda: at


def digest(args: argparse.Namespace) -> None:
    """Each page's SHA-256 (see ``--digest``): the check that a change to how pages are made
    leaves every page byte-identical."""
    import asyncio
    import hashlib

    base = args.bench_dir or Path(tempfile.mkdtemp(prefix="portico-bench-web-"))
    district(base, args)
    os.environ["PORTICO_BENCH_DIR"] = str(base)
    from scripts.bench_api_app import portal

    app = portal()
    at = dt.datetime.fromisoformat((base / "clock.txt").read_text())
    fix_clocks(app, at)
    today = at.date()
    last = (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    week = (today - dt.timedelta(days=7)).isoformat()
    pairs = [tuple(p) for p in json.loads((base / "pairs.json").read_text())]
    targets = [(tok, "/") for tok, _ in pairs] + [
        (tok, f"/children/{sid}/" + page.format(last=last, week=week))
        for tok, sid in pairs
        for page in DIGEST_PAGES
    ]
    out: dict[str, str] = {}

    async def call(n: int, tok: str, target: str, language: str) -> None:
        cookie = f"portico_session={tok}; portico_form={'f' * 43}".encode()
        status, body = await asgi_get(
            app, target, [(b"accept-language", language.encode()), (b"cookie", cookie)]
        )
        out[f"{n:03} {language} {target}"] = f"{status} {hashlib.sha256(body).hexdigest()}"

    async def run() -> None:
        for n, (tok, target) in enumerate(targets):
            for language in DIGEST_LANGUAGES:
                await call(n, tok, target, language)

    asyncio.run(run())
    args.digest.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    codes = Counter(v.split()[0] for v in out.values())
    print(
        f"{len(out)} pages ({len(targets)} paths x {len(DIGEST_LANGUAGES)} languages), status {dict(codes)}: {args.digest}"
    )


def _callgrind(command: str) -> None:
    """Send callgrind (running this process) ``command``, and wait until it is done."""
    proc = subprocess.Popen(["callgrind_control", command, str(os.getpid())], stdout=subprocess.DEVNULL)  # noqa: S603, S607
    while proc.poll() is None:  # valgrind takes commands while this process runs, so sleep in small steps
        time.sleep(0.002)


def instructions(base: Path, args: argparse.Namespace) -> None:
    """Run :func:`in_process` under callgrind and print the instructions per request of each page."""
    if not shutil.which("valgrind"):
        raise SystemExit("--instructions needs valgrind (Debian: apt-get install valgrind)")
    out = base / "callgrind.out"
    subprocess.run(  # noqa: S603 - valgrind and our own interpreter and script
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",  # noqa: S607
         sys.executable, __file__, "--cpu", str(args.cpu), "--clients", str(args.clients), "--counted", str(base)],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for i, name in enumerate(PAGES):
        dump = next(p for p in base.glob("callgrind.out.*") if f"dump page{i}\n" in p.read_text())
        total = int(re.search(r"^totals: (\d+)", dump.read_text(), re.M).group(1))  # type: ignore[union-attr]
        print(f"{name}: {total / args.cpu / 1e6:.3f} million instructions per request ({args.cpu} requests)")


def report(
    results: dict[str, list[dict[str, float]]], weights: dict[str, int], args: argparse.Namespace
) -> None:
    med = {
        k: {m: statistics.median(r[m] for r in v) for m in ("rps", "p50", "p99", "errors", "cpu_us")}
        for k, v in results.items()
    }
    trivial = results["FastAPI trivial JSON"]
    rows = [
        "| endpoint | req/s | p50 ms | p99 ms | non-2xx | server CPU µs/request | share of trivial | HTML + CSS |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, m in med.items():
        share = statistics.median(a["rps"] / t["rps"] for a, t in zip(results[name], trivial, strict=True))
        weight = f"{weights[name] / 1000:.1f} KB" if name in weights else ""
        rows.append(
            f"| {name} | {m['rps']:,.0f} | {m['p50']:.1f} | {m['p99']:.1f} | {m['errors']:.0f} | {m['cpu_us']:,.0f} | {share:.0%} | {weight} |"
        )
    pages = [k for k in weights]
    ok = all(med[k]["p99"] < P99_LIMIT and med[k]["errors"] == 0 for k in pages) and all(
        w < WEIGHT_LIMIT for w in weights.values()
    )
    verdict = (
        f"Targets: p99 under {P99_LIMIT:.0f} ms for both pages, no errors, HTML + CSS under {WEIGHT_LIMIT // 1000} KB: "
        f"{'MET' if ok else 'NOT MET'}."
    )
    tool = "wrk" if shutil.which("wrk") and not args.httpx else "httpx (async)"
    setup = (
        f"{args.clients} concurrent signed-in clients, {args.seconds} s per measurement, median of {args.rounds} "
        f"alternating rounds, load by {tool}; {args.students} students; "
        + (
            "one process, served as `portico serve` serves it"
            if args.processes == 1
            else f"{args.processes} server processes on one socket (`portico api --processes {args.processes}`: "
            "portal and trivial alike)"
        )
        + "; 127.0.0.1; "
        f"{os.cpu_count()} cores shared with the load generator; load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} (1, 5, 15 min) at the end."
    )
    table = "\n".join(rows)
    print("\n" + setup + "\n\n" + table + "\n\n" + verdict)
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        notes = NOTES.read_text() if NOTES.exists() else ""
        args.write.write_text(
            PAGE.format(
                when=dt.date.today().isoformat(),
                command=args.command,
                setup=setup,
                table=table,
                verdict=verdict,
                notes=notes,
            )
        )
    if not ok:
        sys.exit(1)


PAGE = """# Web portal performance (scripts/bench_web)

Measured {when}: `{command}`.

Each of 32 signed-in parents opens the portal's family home (every child: today's
attendance, the next lessons, recent grades, missing assignments, points, new reports,
and the family's notices) or a child's attendance page (the month calendar and its
summary). Each page request runs the same path as the API's (session check against the
session table, the policy gates, the relationship check inside the SQL, the visibility
windows, decryption, the audit event committed before the page is sent), then renders
the page. The JSON dashboard (scripts/bench_api's four routes) and FastAPI's trivial
endpoint are measured in the same run, by the same harness.

{setup}

{table}

{verdict}

"Share of trivial" is the median of each round's ratio. Page weight is the page's HTML
plus its one stylesheet; the portal sends no script, font or image. Compare ratios, not
absolute numbers: on these shared two-core machines they move by 10-20% from run to run.
{notes}"""


if __name__ == "__main__":
    main()
