"""kill -9 `portico alerts send` at random instants, repeated; then check exactly-once delivery.

Used by ``tests/integration/test_kill9_alerts.py`` (30 kills) and ``scripts/kill9_alerts``
(200). One family's news (a publish's, expanded into the outbox by the first senders) holds
several hundred instant alerts; a real SMTP server
(aiosmtpd, a few milliseconds per message so sends are in flight) keeps what it receives.
Each round forks a child running the real command and SIGKILLs it at a random instant.
At the end a clean run sends what is left, and the inbox is compared with the outbox:
every alert arrived (nothing lost), and the copies beyond one are at most one per kill
(only the message in flight when the process died is sent again; it carries the same
Message-ID, so mail clients can tell). A message killed in flight more than once is sent
once more each time, so ``most_copies`` can exceed two while the total stays within the kills.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import hashlib
import json
import os
import random
import signal
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.records import AttendanceCategory
from tests.support.alerts import TODAY, config_file, family, mark, ny
from tests.support.clock import wait_until
from tests.support.kill9 import integrity, portico_child, wait
from tests.support.mail import Inbox, smtp_server


class SlowInbox(Inbox):
    """An inbox that takes a few milliseconds per message, like a real server."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        await asyncio.sleep(0.004)
        return await super().handle_DATA(server, session, envelope)


@dataclass
class Report:
    kills: int = 0
    alerts: int = 0
    received: int = 0
    before_final: int = 0  # messages the killed senders got out
    idle_rounds: int = 0  # senders that found everything claimed (not counted as kills)
    distinct: int = 0
    lost: int = 0
    duplicates: int = 0
    most_copies: int = 0
    unsent_rows: int = 0
    integrity: str = ""
    final_exit: int = -1
    notes: list[str] = field(default_factory=list)


def send_child(config: Path) -> int:
    """Fork a child running `portico alerts send`."""
    return portico_child(config, "alerts", "send")


def kill_loop(workdir: Path, rounds: int, seed: int = 0) -> Report:
    import gateway.cli  # noqa: F401 - imported before forking, so no child pays for it

    rng = random.Random(seed)
    report = Report()
    inbox = SlowInbox()
    with smtp_server(inbox) as (_, port):
        db = workdir / "cache.db"
        fam = family(workdir, f"sqlite:///{db}", port, claim_lease="PT1S", quiet_hours=None)
        n = 3 * rounds + 40
        first = TODAY - dt.timedelta(days=n + 1)
        marks = [
            mark(
                "00001",
                first + dt.timedelta(days=i),
                AttendanceCategory.UNAUTHORISED_ABSENCE,
                ny(9, day=first),
            )
            for i in range(n)
        ]
        fam.clock.at = ny(8)
        fam.sync(attendance=marks)
        config = config_file(fam, workdir / "portico.yaml")
        with fam.app.cache.engine.connect() as conn:
            news = int(conn.exec_driver_sql("SELECT count(*) FROM alert_news").scalar() or 0)
        fam.app.dispose()
        # The publish wrote news, one row per mark (mum alone sees 00001): the first senders
        # expand it into the outbox, killed while doing so as much as while sending.
        report.alerts = n
        if news != n:
            report.notes.append(f"{news} news rows for {n} marks")
        while report.kills < rounds:
            before = len(inbox.messages)
            pid = send_child(config)
            exited = False

            def sending_or_done(b: int = before, child: int = pid) -> bool:
                nonlocal exited
                if len(inbox.messages) > b:
                    return True
                exited = os.waitpid(child, os.WNOHANG)[0] != 0
                return exited

            if rng.random() < 0.2:
                time.sleep(rng.uniform(0.0, 0.3))  # while it starts up
            else:  # once it is sending: anywhere in a claim, a send or a mark
                wait_until(sending_or_done, 60, "a message sent")
                time.sleep(rng.uniform(0.0, 0.03))
            if exited:  # everything due was claimed by a killed sender: wait out its claim
                report.idle_rounds += 1
                time.sleep(1.1)
                continue
            os.kill(pid, signal.SIGKILL)
            wait(pid)
            report.kills += 1
        report.before_final = len(inbox.messages)
        time.sleep(1.2)  # the last killed sender's claim expires (alerts.claim_lease)
        report.final_exit = wait(send_child(config))
        got = collections.Counter(
            str(r.message["Message-ID"]).split("@")[0].strip("<") for r in inbox.messages
        )
    with sqlite3.connect(db) as conn:
        keys = [str(k) for (k,) in conn.execute("SELECT key FROM alert_outbox")]
        left = int(conn.execute("SELECT count(*) FROM alert_news").fetchone()[0])
    if len(keys) != n or left:
        report.notes.append(f"{len(keys)} outbox rows for {n} marks, {left} news rows not expanded")
    expected = {"alert." + hashlib.sha256(k.encode()).hexdigest()[:32] for k in keys}
    report.received = sum(got.values())
    report.distinct = len(got)
    report.lost = len(expected - set(got))
    report.duplicates = report.received - report.distinct
    report.most_copies = max(got.values(), default=0)
    if set(got) - expected:
        report.notes.append(f"{len(set(got) - expected)} messages that are no alert of the outbox")
    with sqlite3.connect(db) as conn:
        report.unsent_rows = int(
            conn.execute("SELECT count(*) FROM alert_outbox WHERE status <> 'sent'").fetchone()[0]
        )
    report.integrity = integrity(db)
    return report


def ok(report: Report) -> bool:
    return (
        report.lost == 0
        and report.unsent_rows == 0
        and report.duplicates <= report.kills
        and report.integrity == "ok"
        and report.final_exit == 0
        and not report.notes
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        t0 = time.monotonic()
        report = kill_loop(Path(tmp).resolve(), args.runs, args.seed)
        print(json.dumps(report.__dict__, indent=2))
        print(f"{args.runs} kills in {time.monotonic() - t0:.0f}s", file=sys.stderr)
    sys.exit(0 if ok(report) else 1)


if __name__ == "__main__":
    main()
