"""Alerts end to end over a real SMTP server: a synced change is announced once, when the
portal shows it, to the family who may see the child, and the digest collects the rest."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from cache.tables.alerts import AlertOutbox
from cache.tables.core import core_table
from connectors.records import AttendanceCategory
from tests.support.alerts import TODAY, family, incident, mark, ny
from tests.support.mail import smtp_server

OUTBOX = core_table(AlertOutbox)


def _texts(inbox_messages: list, to: str) -> list[tuple[str, str]]:
    out = []
    for r in inbox_messages:
        m = r.message
        if m["To"] == to:
            plain = next(p for p in m.walk() if p.get_content_type() == "text/plain")
            out.append((str(m["Subject"]), plain.get_payload(decode=True).decode()))
    return out


def test_a_synced_absence_is_announced_once_after_the_lag_and_the_digest_collects_the_rest(
    tmp_path: Path, db_url: str
) -> None:
    with smtp_server() as (inbox, port):
        fam = family(tmp_path, db_url, port)
        app, clock = fam.app, fam.clock
        # Dad is held (a court order reported to the school): he must hear nothing at all.
        fam.hold("contact", "c2", "court-order")
        clock.at = ny(8)
        yesterday = TODAY - dt.timedelta(days=1)
        fam.sync(
            attendance=[
                mark("00000", yesterday, AttendanceCategory.UNAUTHORISED_ABSENCE, ny(15, day=yesterday)),
                # Today's mark, recorded at 07:30: the portal shows it from 10:30.
                mark("00001", TODAY, AttendanceCategory.AUTHORISED_ABSENCE, ny(7, 30)),
            ],
            behaviour=[incident("00000", 1, ny(6))],
        )
        fam.expand()  # what the sender does first: the news to one row per recipient
        with app.cache.engine.connect() as conn:
            queued = conn.execute(select(OUTBOX.c.account_id, OUTBOX.c.kind, OUTBOX.c.mode)).all()
        assert sorted((k, m) for a, k, m in queued) == [
            ("absence", "instant"),
            ("behaviour", "daily"),
            ("unauthorised_absence", "instant"),
        ]
        assert {a for a, _, _ in queued} == {fam.mum}

        sent = app.send_alerts()
        assert (sent.messages, sent.deferred) == (1, 0)
        assert _texts(inbox.messages, "mum@example.org")[0][0] == (
            "New in the parent portal: First0, an unexcused absence"
        )
        clock.at = ny(10, 29)  # today's mark is not shown yet: nothing goes out
        assert app.send_alerts().messages == 0
        clock.at = ny(10, 31)
        assert app.send_alerts().messages == 1
        assert "First1: an absence" in _texts(inbox.messages, "mum@example.org")[1][1]
        clock.at = ny(17, 0)  # the daily digest
        assert app.send_alerts().messages == 1
        subject, body = _texts(inbox.messages, "mum@example.org")[2]
        assert subject == "Your daily summary from the parent portal"
        assert "- First0: a behavior event" in body
        # The same data synced again, and the sender run again: nothing more.
        clock.at = ny(17, 10)
        fam.sync()
        assert app.send_alerts().messages == 0
        assert len(inbox.messages) == 3
        assert not _texts(inbox.messages, "dad@example.org")
        digest = inbox.messages[2].message
        assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert digest["List-Unsubscribe"].startswith("<https://portal.example.org/u/")
        assert {p.get_content_type() for p in digest.walk()} >= {"text/plain", "text/html"}
        app.dispose()
