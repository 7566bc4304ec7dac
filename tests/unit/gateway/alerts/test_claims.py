"""Several senders at once (threads here, workers in service) never send one alert twice."""

from __future__ import annotations

import collections
import datetime as dt
import threading
import time
from pathlib import Path

from connectors.records import AttendanceCategory
from gateway.alerts.sender import Sender
from gateway.ops.mail import Message
from gateway.web import alert_mail
from tests.support.alerts import TODAY, family, mark, ny


class Collecting:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids: list[str] = []

    def send(self, message: Message) -> None:
        time.sleep(0.002)  # a send takes time: the others run meanwhile
        with self.lock:
            self.ids.append(str(message.message_id))


def test_three_senders_at_once_send_each_alert_exactly_once(tmp_path: Path, db_url: str) -> None:
    fam = family(tmp_path, db_url, quiet_hours=None)
    first = TODAY - dt.timedelta(days=100)
    fam.clock.at = ny(8)
    fam.sync(
        attendance=[
            mark(
                "00001",
                first + dt.timedelta(days=i),
                AttendanceCategory.UNAUTHORISED_ABSENCE,
                ny(9, day=first),
            )
            for i in range(60)
        ]
    )
    mailer = Collecting()
    senders = [Sender(fam.app.cache, fam.app.config, mailer, alert_mail.render, fam.clock) for _ in range(3)]
    threads = [threading.Thread(target=s.run, kwargs={"batch": 7}) for s in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    counts = collections.Counter(mailer.ids)
    assert len(counts) == 60 and set(counts.values()) == {1}
    with fam.app.cache.engine.connect() as conn:
        left = conn.exec_driver_sql("SELECT count(*) FROM alert_outbox WHERE status <> 'sent'").scalar()
    assert left == 0
    fam.app.dispose()
