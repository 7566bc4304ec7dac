"""New notices, end to end over a real SMTP server: a notice has no student, so its audience
(a school, a year group) is resolved to the families whose children are in it; each account
hears once per notice, however many of its children the notice speaks to, never before the
notice is published, never if held, and never about a school its children are not in."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sqlalchemy import select

from cache.tables.alerts import AlertOutbox
from cache.tables.core import core_table
from connectors.records import Audience
from tests.support.alerts import family, notice, ny
from tests.support.mail import smtp_server
from tests.support.records import contact, link, school, student

OUTBOX = core_table(AlertOutbox)


def _subjects(inbox_messages: list, to: str) -> list[str]:  # type: ignore[type-arg]
    return [str(r.message["Subject"]) for r in inbox_messages if r.message["To"] == to]


def test_a_new_notice_reaches_each_family_in_its_audience_once_and_only_when_published(
    tmp_path: Path, db_url: str
) -> None:
    with smtp_server() as (inbox, port):
        fam = family(tmp_path, db_url, port, defaults={"notice": "instant"})
        app, clock = fam.app, fam.clock
        # A third family, at another school.
        other = dataclasses.replace(student(2), school_id="200")
        fam.records["schools"].append(school("200", "Hill School", "America/New_York"))
        fam.records["students"].append(other)
        fam.records["contacts"] += [contact("c3", "Cy", "Parent", "cy@example.org"), link("00002", "c3")]
        fam.sync()
        cy = fam.activate("c3")
        # Dad is held: he hears of no notice, not even one to the whole school.
        fam.hold("contact", "c2", "court-order")
        clock.at = ny(8)
        fam.sync(
            notices=[
                notice("n1", Audience.SCHOOL, "100", ny(7)),  # both of mum's children
                notice("n2", Audience.YEAR, "100", ny(12), year="8"),  # published at noon
                notice("n3", Audience.SCHOOL, "200", ny(7)),  # Cy's school only
            ]
        )
        fam.expand()  # what the sender does first: the news to one row per recipient
        with app.cache.engine.connect() as conn:
            queued = conn.execute(select(OUTBOX.c.account_id, OUTBOX.c.record_kind, OUTBOX.c.mode)).all()
        assert sorted((a == fam.mum, a == cy) for a, _, _ in queued) == [
            (False, True),
            (True, False),
            (True, False),
        ]
        assert {(k, m) for _, k, m in queued} == {("notice", "instant")}

        assert app.send_alerts().messages == 2  # n1 to mum, n3 to Cy; n2 waits for noon
        # Through one of her children (both are at the school): one message, not two.
        assert _subjects(inbox.messages, "mum@example.org") in (
            ["New in the parent portal: First0, a new notice"],
            ["New in the parent portal: First1, a new notice"],
        )
        assert _subjects(inbox.messages, "cy@example.org") == [
            "New in the parent portal: First2, a new notice"
        ]
        clock.at = ny(11, 59)
        assert app.send_alerts().messages == 0
        clock.at = ny(12, 1)
        assert app.send_alerts().messages == 1
        assert len(_subjects(inbox.messages, "mum@example.org")) == 2
        # Synced again, the same notices are not new; an edited one is not new either.
        clock.at = ny(13)
        fam.records["notices"][0] = notice("n1", Audience.SCHOOL, "100", ny(7, 5))
        fam.sync()
        assert app.send_alerts().messages == 0
        assert not _subjects(inbox.messages, "dad@example.org")
        assert len(inbox.messages) == 3
        app.dispose()
