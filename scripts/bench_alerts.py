"""Alerts benchmark: detection and queueing after a 1%-changed sync, and a daily digest for every family.

One SQLite cache, a synthetic district synced in-process (connectors.memory, so nothing
but Portico is measured):

  1. initial load (full; no alerts: a first snapshot is not news); every guardian account
     is then activated
  2. 1% of the records of every kind edited (absences, missing work, low scores, incidents
     among them) and synced as an incremental run would read them (the changes only);
     the publish is timed with the alert hook kept apart (the staging still keeps the
     change set for it, and reports the CPU that took; the retired payloads its existing-row
     query reads for it, which it cannot time apart, are measured apart after), then the
     hook's work (detection: the news, one row per record and alert kind, from that change
     set) on its own, then the sender's expansion of that news into one outbox row per
     recipient (not part of the publish: reported beside it), then the same detection
     reading the run back from the cache (``portico alerts detect``): the shares they add
  3. one late mark for every student (daily digests by default), its news expanded (timed
     on its own), then the sender builds and hands over the daily digest of every family at the digest time (to a mailer that
     discards it: what is measured is building, not an SMTP server)

Wall time is meaningless on a loaded machine: process CPU time is reported beside it.
Usage: scripts/bench_alerts [--students 10000] [--change 0.01] [--out FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import gc
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COMMAND = "scripts/bench_alerts --students {students} --change {change}"


class Collections:
    """The cyclic collector's passes, by generation: how many, and the CPU they took
    (``gc.callbacks``), so a step's figure says how much of it was the collector's."""

    def __init__(self) -> None:
        self.passes = [0, 0, 0]
        self.cpu = [0.0, 0.0, 0.0]
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.process_time()
        else:
            gen = info["generation"]
            self.passes[gen] += 1
            self.cpu[gen] += time.process_time() - self._began

    def snapshot(self) -> tuple[list[int], list[float]]:
        return list(self.passes), list(self.cpu)


# Installed by the first Timed block, not on import (bench_detect and bench_keep import this
# module, and count instructions where nothing is timed).
COLLECTIONS = Collections()


class Timed:
    """Wall and process CPU of a block, the CPU split into user and system time
    (``os.times``: system time is mostly the database's page reads), and the collector's
    passes in it."""

    def __init__(self) -> None:
        self.wall = self.cpu = self.user = self.system = 0.0
        self.passes = [0, 0, 0]
        self.gc_cpu = [0.0, 0.0, 0.0]

    def __enter__(self) -> Timed:
        if COLLECTIONS not in gc.callbacks:
            gc.callbacks.append(COLLECTIONS)
        self._gc = COLLECTIONS.snapshot()
        self._t = os.times()
        self._w, self._c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._w
        self.cpu = time.process_time() - self._c
        t = os.times()
        self.user, self.system = t.user - self._t.user, t.system - self._t.system
        passes, cpu = COLLECTIONS.snapshot()
        self.passes = [a - b for a, b in zip(passes, self._gc[0], strict=True)]
        self.gc_cpu = [a - b for a, b in zip(cpu, self._gc[1], strict=True)]

    def detail(self) -> str:
        """User and system CPU, and the collector's passes (young, middle, full) and their CPU."""
        return (
            f"user {self.user:.2f} s, system {self.system:.2f} s; collector passes "
            f"{self.passes[0]}/{self.passes[1]}/{self.passes[2]} ({sum(self.gc_cpu):.3f} s, "
            f"full {self.gc_cpu[2]:.3f} s)"
        )


@contextlib.contextmanager
def profiled(name: str) -> Iterator[None]:
    """cProfile of the block, top functions to stderr, when BENCH_PROFILE is set."""
    if not os.environ.get("BENCH_PROFILE"):
        yield
        return
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    try:
        yield
    finally:
        prof.disable()
        print(f"--- profile: {name}", file=sys.stderr)
        pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(35)


# The staging's keep steps: what it spends keeping the change set (an older tree, for A/B
# runs, may lack one of them).
KEEP_STEPS = ("_kept", "_collect")


@contextlib.contextmanager
def keep_steps(wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Iterator[None]:
    """The staging's keep steps (those of :data:`KEEP_STEPS` this tree's ``Staging`` has)
    replaced by ``wrap`` of each for the block, and restored after, even on an error."""
    from cache.snapshots.staging import Staging

    steps = {name: getattr(Staging, name) for name in KEEP_STEPS if hasattr(Staging, name)}
    for name, step in steps.items():
        setattr(Staging, name, wrap(step))
    try:
        yield
    finally:
        for name, step in steps.items():
            setattr(Staging, name, step)


@contextlib.contextmanager
def profiled_collect() -> Iterator[None]:
    """cProfile of the staging's keep steps alone (:func:`keep_steps`, every call of the
    block), top functions to stderr, when BENCH_PROFILE is set."""
    if not os.environ.get("BENCH_PROFILE"):
        yield
        return
    import cProfile
    import pstats

    prof = cProfile.Profile()

    def profiling(step: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(self: Any, *args: Any) -> Any:
            prof.enable()
            try:
                return step(self, *args)
            finally:
                prof.disable()

        return wrapped

    try:
        with keep_steps(profiling):
            yield
    finally:
        print("--- profile: keeping the change set (Staging._kept, Staging._collect)", file=sys.stderr)
        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(25)


def mutate(rec: Any, rng: random.Random) -> Any:
    """An edit of the kind a school makes, alert-worthy where the kind allows."""
    from connectors.records import AttendanceCategory, ResultStatus

    kind = rec.kind
    if kind == "attendance":
        return dataclasses.replace(rec, category=rng.choice(list(AttendanceCategory)), source_code="Z")
    if kind == "result":
        status = rng.choice([ResultStatus.MISSING, ResultStatus.LATE, ResultStatus.SUBMITTED])
        return dataclasses.replace(rec, status=status, score=rng.choice([None, 1.0, 5.0]))
    if kind == "grade":
        return dataclasses.replace(rec, percent=rng.uniform(20, 99), mark=(rec.mark or "") + "*")
    for name in ("homeroom", "room", "phone", "comment", "comments", "description", "title"):
        if hasattr(rec, name):
            return dataclasses.replace(rec, **{name: f"{getattr(rec, name) or ''}*"})
    return rec


class Changes:
    """A connector serving only edited records, as an incremental read returns them."""

    def __init__(self, name: str, kinds: Iterable[str], changed: Mapping[str, list[Any]]) -> None:
        """``kinds``: the streams the source has (each read as ``changed`` has it, or empty)."""
        from connectors.memory import MemoryConnector

        self.name = name
        self._all = MemoryConnector(name, {kind: [] for kind in kinds})
        self.changed = changed

    def streams(self) -> Any:
        return self._all.streams()

    def check(self) -> Any:
        return self._all.check()

    def read(self, stream: str, state: str | None, *, full: bool = False, known: Any = None) -> Iterator[Any]:
        from connectors.base import Page

        records = self.changed.get(stream, [])
        # At least one page, not full: an empty incremental read deletes nothing.
        for start in range(0, max(1, len(records)), 1000):
            yield Page(records=records[start : start + 1000], full=False, cursor=f"c{time.time_ns()}")

    def close(self) -> None:
        pass


class Captured:
    """An after-publish hook that keeps the change set the staging collected for ``hook``."""

    def __init__(self, hook: Any) -> None:
        self.hook = hook
        self.changes: Any = None

    def watch(self) -> Any:
        return self.hook.watch()

    def __call__(self, source: str, run: int, changes: Any = None) -> None:
        self.changes = changes


class Discard:
    """A mailer that takes every message and keeps none (building is what is measured)."""

    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0

    def send(self, message: Any) -> None:
        self.messages += 1
        self.bytes += len(message.body) + len(message.html or "")


def pick_changes(streams: dict[str, list[Any]], change: float) -> dict[str, list[Any]]:
    """The benchmark's edits: ``change`` of each kind's records (at least one), edited by
    :func:`mutate`, the same ones for the same district (seeded)."""
    rng = random.Random(5)
    changed: dict[str, list[Any]] = {}
    for kind, records in streams.items():
        if kind in ("school", "student", "contact", "link", "section", "enrollment"):
            continue
        picked = rng.sample(range(len(records)), max(1, round(len(records) * change))) if records else []
        changed[kind] = [mutate(records[i], rng) for i in picked]
    return changed


def payload_reads(cache: Any, changed: Mapping[str, list[Any]], repeat: int = 5) -> float:
    """CPU the staging's existing-row query spent reading the current versions' key ids and
    payloads with them (watched kinds only: the retired versions the change set opens), the
    one part of keeping the change set the staging cannot time apart: the same query on the
    same refs after the publish, batch by batch, with and without those columns, ``repeat``
    times each; the difference of the medians."""
    from cache.snapshots.staging import WRITE_BATCH, current_versions
    from gateway.alerts.detect import WATCHED

    index = cache.keyring.index
    refs = {
        k: [index.ref("sis", k, r.source_id) for r in recs] for k, recs in changed.items() if k in WATCHED
    }
    times: dict[bool, list[float]] = {False: [], True: []}
    with cache.engine.connect() as conn:
        for _ in range(repeat + 1):  # the first round warms the page cache, uncounted
            for sealed in (False, True):
                began = time.process_time()
                for kind, some in refs.items():
                    for i in range(0, len(some), WRITE_BATCH):
                        current_versions(conn, "sis", kind, some[i : i + WRITE_BATCH], sealed)
                times[sealed].append(time.process_time() - began)
    return max(0.0, sorted(times[True][1:])[repeat // 2] - sorted(times[False][1:])[repeat // 2])


def run(workdir: Path, students: int, change: float, until: dt.date | None = None) -> dict[str, Any]:
    from sqlalchemy import text

    from cache.db import keystore_url
    from cache.keys.crypto import new_kek_line
    from cache.migrations import runner as migrations
    from cache.store import open_cache
    from config.secrets import SecretResolver
    from config.settings import PorticoConfig
    from connectors.memory import MemoryConnector
    from connectors.records import AttendanceCategory
    from gateway.alerts import detect
    from gateway.alerts.sender import Sender
    from gateway.bootstrap import build_application
    from gateway.sync.engine import SyncEngine
    from gateway.web import alert_mail
    from simulators.district.synthetic import DistrictSpec, SyntheticDistrict

    schools = max(2, students // 1000)
    if until is None:  # a full school year: "today" is its last day
        until = SyntheticDistrict(DistrictSpec(seed=5, schools=schools, students=students)).year_end
    district = SyntheticDistrict(DistrictSpec(seed=5, schools=schools, students=students, today=until))
    today = district.spec.today
    (workdir / "kek.key").write_text(new_kek_line() + "\n")
    config = PorticoConfig.model_validate(
        {
            "district": {"name": "Bench", "timezone": "America/New_York"},
            "cache": {"url": f"sqlite:///{workdir / 'cache.db'}", "kek": {"file": str(workdir / "kek.key")}},
            "connectors": [{"name": "sis", "type": "powerschool", "options": {}}],
        }
    )
    migrations.upgrade(config.cache.url, keystore_url(config))
    now = [dt.datetime.combine(today, dt.time(20, 0), dt.UTC)]  # 15:00 in New York
    mailer = Discard()
    app = build_application(
        config, cache=open_cache(config, SecretResolver()), mailer=mailer, clock=lambda: now[0]
    )
    streams = {kind: list(district.iter(kind)) for kind in district.kinds()}
    total = sum(len(v) for v in streams.values())
    out: dict[str, Any] = {"students": students, "records": total}
    print(f"[1] initial load of {total:,} records ...", flush=True)
    with Timed() as t:
        app.sync("sis", connector=MemoryConnector("sis", streams, page_size=2000), full=True)
    out["load"] = t
    with app.cache.engine.begin() as conn:
        conn.execute(
            text("UPDATE account SET status = 'active', aup_version = :v"), {"v": config.access.aup.version}
        )
        out["accounts"] = int(conn.execute(text("SELECT count(*) FROM account")).scalar() or 0)

    changed = pick_changes(streams, change)
    edited = sum(len(v) for v in changed.values())
    # Step 3's late marks, picked now: what follows holds only the edits, as a real sync
    # process does (it reads a page at a time, never the district). Holding the district's
    # 4.35 million records (at 10,000 students) through the publish and the hook would make
    # the collector's full passes cost some 0.6 s each and its heuristic put them off, a
    # process neither like a real one nor the same from run to run.
    late: dict[str, Any] = {}
    for rec in streams["attendance"]:
        if rec.student_id not in late and rec.date < today - dt.timedelta(days=1):
            late[rec.student_id] = dataclasses.replace(rec, category=AttendanceCategory.LATE, minutes_late=7)
    stream_names = list(streams)
    del streams, district
    gc.collect()  # the process starts the incremental sync as a fresh one would: nothing pending
    print(
        f"[2] {edited:,} records edited ({change:.0%}); incremental sync, the alert hook kept apart ...",
        flush=True,
    )
    watcher = detect.after_publish(app.cache, config, lambda: now[0])
    captured = Captured(watcher)
    hooks = [h for h in app.after_publish() if getattr(h, "__module__", "") != detect.__name__]
    engine = SyncEngine(
        app.cache.engine, app.cache.keyring, config, config.connectors[0], on_published=[*hooks, captured]
    )
    with Timed() as t, profiled_collect():
        result = engine.run(Changes("sis", stream_names, changed))
    assert result.status == "published", result
    assert captured.changes is not None, "the change set overflowed"
    out["publish_total"] = t
    out["edited"] = edited
    run_id = int(result.run_id or 0)
    print("    detection and queueing from the staged change set ...", flush=True)
    with Timed() as t, profiled("detect"):
        found = detect.detect(app.cache, config, "sis", run_id, now[0], captured.changes)
    out["detect"] = t
    out["found"] = found
    print(
        "    the retired payloads' share of the staging's existing-row query, measured apart ...", flush=True
    )
    out["payload_reads"] = payload_reads(app.cache, changed)
    # The staging's share spent keeping the change set: what it timed, and the reads it could not.
    out["collect"] = captured.changes.cpu + out["payload_reads"]
    publish_cpu = out["publish_total"].cpu - out["collect"]
    print(
        f"    publish {publish_cpu:.3f} s CPU, keeping the change set {out['collect']:.3f} s "
        f"({out['payload_reads']:.3f} s of it reading the retired payloads), detection "
        f"{t.cpu:.3f} s ({found.queued:,} news rows): "
        f"{(out['collect'] + t.cpu) / max(publish_cpu, 1e-9):.1%} of the publish",
        flush=True,
    )
    print(f"    the publish: {out['publish_total'].detail()}", flush=True)
    print(f"    detection: {t.detail()}", flush=True)
    print("    the sender's expansion of that news into the outbox ...", flush=True)
    with Timed() as t, profiled("expand"):
        out["expanded"] = detect.expand(app.cache, config, now[0])
    out["expand"] = t
    with app.cache.engine.begin() as conn:
        conn.execute(text("DELETE FROM alert_outbox"))
        conn.execute(text("DELETE FROM alert_news"))
    print("    the same, reading the run back from the cache (portico alerts detect) ...", flush=True)
    with Timed() as t, profiled("detect-read-again"):
        again = detect.detect(app.cache, config, "sis", run_id, now[0])
    assert (again.changed, again.queued) == (found.changed, found.queued), (again, found)
    out["read_again"] = t
    assert detect.expand(app.cache, config, now[0]).queued == out["expanded"].queued

    print("[3] a late mark for every student, then every family's daily digest ...", flush=True)
    app.sync("sis", connector=Changes("sis", stream_names, {"attendance": list(late.values())}))
    with Timed() as t:
        out["late_expanded"] = detect.expand(app.cache, config, now[0])
    out["late_expand"] = t
    with app.cache.engine.connect() as conn:
        out["digest_rows"] = int(
            conn.execute(
                text("SELECT count(*) FROM alert_outbox WHERE mode = 'daily' AND status = 'pending'")
            ).scalar()
            or 0
        )
    now[0] = dt.datetime.combine(today, dt.time(22, 1), dt.UTC)  # 17:01 in New York: digest time
    sender = Sender(app.cache, config, mailer, alert_mail.render, lambda: now[0])
    before = mailer.messages
    with Timed() as t, profiled("digest"):
        sent = sender.run()
    out["digest"] = t
    out["sent"] = sent
    out["digest_messages"] = mailer.messages - before
    app.dispose()
    return out


def report(r: dict[str, Any], args: argparse.Namespace) -> str:
    tot, det, dig, load, again = r["publish_total"], r["detect"], r["digest"], r["load"], r["read_again"]
    collect = r["collect"]
    publish_cpu = tot.cpu - collect  # the publish itself, without keeping the change set
    detect_cpu = collect + det.cpu  # what alerts cost: keeping the change set, then the hook
    found, exp, expanded = r["found"], r["expand"], r["expanded"]
    late, late_expanded = r["late_expand"], r["late_expanded"]
    command = COMMAND.format(students=args.students, change=args.change) + (
        f" --today {args.today.isoformat()}" if args.today else ""
    )
    lines = [
        "# Alerts: detection cost and daily digests",
        "",
        f"Measured by `{command}` ({dt.date.today()}): a synthetic district of {r['students']:,} students "
        f"({r['records']:,} records, {r['accounts']:,} accounts), one SQLite cache, synced in-process.",
        "CPU is the process's own CPU time: the figure that means something on a shared machine "
        f"(load average {os.getloadavg()[0]:.1f} at the end of this run, on {os.cpu_count()} cores).",
        "",
        "| step | what | wall s | CPU s |",
        "| --- | --- | --- | --- |",
        f"| initial load | {r['records']:,} records, full | {load.wall:.1f} | {load.cpu:.1f} |",
        f"| publish | {r['edited']:,} edited records ({args.change:.0%}), incremental, without the alert hook "
        f"and without keeping the change set | | {publish_cpu:.3f} |",
        f"| keeping the change set | inside the staging of that publish (the summaries of the new versions "
        f"that may be news, their retired versions read, opened and summarised; the reads, "
        f"{r['payload_reads']:.3f} s, measured apart) | | {collect:.3f} |",
        f"| detection and queueing | from the staged change set: {found.changed:,} changed records of "
        f"watched kinds, {found.queued:,} news rows | {det.wall:.3f} | {det.cpu:.3f} |",
        f"| expansion (the sender's) | that news to {expanded.candidates:,} candidate alerts, "
        f"{expanded.queued:,} outbox rows | {exp.wall:.3f} | {exp.cpu:.3f} |",
        f"| the same, read back | the run's versions read and decrypted again from the cache "
        f"(`portico alerts detect`) | {again.wall:.3f} | {again.cpu:.3f} |",
        f"| expansion of the late marks (the sender's) | {late_expanded.news:,} news rows to "
        f"{late_expanded.queued:,} outbox rows | {late.wall:.1f} | {late.cpu:.1f} |",
        f"| daily digests | {r['digest_messages']:,} digests built and handed to the mailer "
        f"({r['sent'].alerts:,} alerts) | {dig.wall:.1f} | {dig.cpu:.1f} |",
        "",
        f"Of the hook, inserting the {found.queued:,} news rows took {found.write_cpu:.3f} s of CPU "
        f"({found.write_cpu / max(publish_cpu, 1e-9):.1%} of the publish).",
        "",
        f"Detection and queueing (keeping the change set + the hook) / that run's publish: "
        f"**{detect_cpu / max(publish_cpu, 1e-9):.1%}** CPU (target at most 5%); read back from the cache "
        f"instead: {(again.cpu) / max(publish_cpu, 1e-9):.1%}.",
        f"A daily digest for every family: **{dig.wall:.1f} s** wall, {dig.cpu:.1f} s CPU "
        f"(target under 60 s; {r['digest_rows']:,} queued alerts).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=10_000)
    ap.add_argument("--change", type=float, default=0.01)
    ap.add_argument(
        "--today",
        type=dt.date.fromisoformat,
        help="the district's school year up to this date (YYYY-MM-DD) instead of the full year",
    )
    ap.add_argument(
        "--out",
        default="",
        metavar="FILE",
        help="also write the results as a Markdown page to FILE (not docs/PERFORMANCE-alerts.md, "
        "whose dated sections are written by hand from these results)",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = run(Path(tmp), args.students, args.change, args.today)
    text = report(results, args)
    print("\n" + text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
