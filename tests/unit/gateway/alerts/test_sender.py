"""The sender: SMTP failures retried with a doubling wait and reported; a hold placed after an
alert was queued drops it without a word; quiet hours hold instant alerts back; the
recipient's language."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from structlog.testing import capture_logs

from cache.tables.alerts import AlertNews, AlertOutbox
from cache.tables.core import core_table
from config.settings import MailSettings
from connectors.records import AttendanceCategory
from gateway.alerts import detect, prefs
from gateway.ops.mail import SmtpMailer
from tests.support.alerts import TODAY, Family, family, mark, ny
from tests.support.mail import smtp_server
from tests.support.net import free_port

OUTBOX = core_table(AlertOutbox)
NEWS = core_table(AlertNews)
YESTERDAY = TODAY - dt.timedelta(days=1)


def absence(fam: Family, sid: str = "00001") -> None:  # 00001: mum's alone
    fam.clock.at = ny(8)
    fam.sync(
        attendance=[mark(sid, YESTERDAY, AttendanceCategory.UNAUTHORISED_ABSENCE, ny(15, day=YESTERDAY))]
    )


def rows(fam: Family) -> list[tuple[str, str, int, dt.datetime]]:
    fam.expand()
    with fam.app.cache.engine.connect() as conn:
        o = OUTBOX.c
        return [tuple(r) for r in conn.execute(select(o.account_id, o.status, o.attempts, o.due_at))]  # type: ignore[misc]


def test_smtp_failures_are_retried_with_a_doubling_wait_and_reported(tmp_path: Path, sqlite_url: str) -> None:
    fam = family(tmp_path, sqlite_url, free_port(), max_attempts=3, retry_base="PT1M")
    absence(fam)
    first = fam.app.send_alerts()
    assert (first.messages, first.retried) == (0, 1)
    [(_, status, attempts, due)] = rows(fam)
    assert (status, attempts, due) == ("pending", 1, ny(8) + dt.timedelta(minutes=1))
    with TestClient(fam.app.api(), client=("127.0.0.1", 50000)) as c:
        metrics = c.get("/metrics").text
    assert 'portico_alerts{status="pending"} 1.0' in metrics and "portico_alerts_retrying 1.0" in metrics
    fam.clock.at = ny(8, 1)
    assert fam.app.send_alerts().retried == 1
    assert rows(fam)[0][3] == ny(8, 1) + dt.timedelta(minutes=2)  # doubled
    fam.clock.at = ny(8, 3)
    assert fam.app.send_alerts().failed == 1  # the third attempt was the last
    assert rows(fam)[0][1] == "failed"
    with TestClient(fam.app.api(), client=("127.0.0.1", 50000)) as c:
        assert 'portico_alerts{status="failed"} 1.0' in c.get("/metrics").text
    fam.app.dispose()


def test_a_retry_after_the_server_comes_back_delivers_once(tmp_path: Path, sqlite_url: str) -> None:
    dead = free_port()
    fam = family(tmp_path, sqlite_url, dead)
    absence(fam)
    assert fam.app.send_alerts().retried == 1
    with smtp_server() as (inbox, port):
        fam.app.mailer = SmtpMailer(MailSettings(backend="smtp", smtp_port=port))
        fam.clock.at = ny(9)
        assert fam.app.send_alerts().messages == 1
        assert fam.app.send_alerts().messages == 0
        assert len(inbox.messages) == 1
    fam.app.dispose()


def test_a_hold_placed_after_queueing_drops_the_alert_and_nothing_is_sent(
    tmp_path: Path, sqlite_url: str
) -> None:
    with smtp_server() as (inbox, port):
        fam = family(tmp_path, sqlite_url, port)
        absence(fam, "00000")
        assert {r[0] for r in rows(fam)} == {fam.mum, fam.dad}
        fam.hold("student", "00000", "child-protection", "x")
        sent = fam.app.send_alerts()
        assert (sent.messages, sent.dropped) == (0, 2)
        assert inbox.messages == []
        fam.app.dispose()


def test_quiet_hours_hold_an_instant_alert_until_they_end_and_it_arrives_in_spanish(
    tmp_path: Path, sqlite_url: str
) -> None:
    with smtp_server() as (inbox, port):
        fam = family(tmp_path, sqlite_url, port)
        with fam.app.cache.engine.begin() as conn:
            prefs.save(conn, fam.mum, prefs.Prefs(language="es"), fam.clock())
        fam.clock.at = ny(22)
        fam.sync(
            attendance=[
                mark("00001", YESTERDAY, AttendanceCategory.UNAUTHORISED_ABSENCE, ny(15, day=YESTERDAY))
            ]
        )
        sent = fam.app.send_alerts()
        assert (sent.messages, sent.deferred) == (0, 1)
        fam.clock.at = ny(6, 59, day=TODAY + dt.timedelta(days=1))
        assert fam.app.send_alerts().messages == 0
        fam.clock.at = ny(7, 0, day=TODAY + dt.timedelta(days=1))
        assert fam.app.send_alerts().messages == 1
        m = inbox.messages[0].message
        assert m["Subject"] == "Novedad en el portal de familias: First1, una ausencia injustificada"
        assert m["Content-Language"] == "es"
        fam.app.dispose()


def test_the_scheduler_runs_the_sender_every_send_every(tmp_path: Path, sqlite_url: str) -> None:
    from gateway.bootstrap import ALERTS_JOB

    fam = family(tmp_path, sqlite_url, send_every="PT2M")
    job = fam.app.scheduler().scheduler.get_job(ALERTS_JOB)
    assert job is not None and job.trigger.interval == dt.timedelta(minutes=2)
    assert (job.coalesce, job.max_instances) == (True, 1)
    fam.app.dispose()


def test_a_queued_alert_follows_the_choice_the_family_makes_after_it_was_queued(
    tmp_path: Path, db_url: str
) -> None:
    """Queued for the daily digest; mum then wants behaviour at once (it goes now), dad
    weekly (nothing at the daily time, his weekly digest on Friday), in both engines."""
    from tests.support.alerts import incident

    with smtp_server() as (inbox, port):
        fam = family(tmp_path, db_url, port)
        fam.clock.at = ny(8)
        fam.sync(behaviour=[incident("00000", 1, ny(6))])
        assert sorted((a == fam.mum, s) for a, s, _, _ in rows(fam)) == [
            (False, "pending"),
            (True, "pending"),
        ]
        assert {due for _, _, _, due in rows(fam)} == {ny(17)}  # the district's daily digest
        assert fam.app.send_alerts().messages == 0
        sref = fam.app.cache.keyring.index.ref("sis", "student", "00000")
        fam.clock.at = ny(9)
        with fam.app.cache.engine.begin() as conn:
            prefs.save(conn, fam.mum, prefs.Prefs(children={sref: {"behaviour": "instant"}}), fam.clock())
            prefs.save(conn, fam.dad, prefs.Prefs(children={sref: {"behaviour": "weekly"}}), fam.clock())
        sent = fam.app.send_alerts()
        assert (sent.messages, sent.deferred) == (1, 1)  # mum's now; dad's put back to Friday
        assert [r.message["To"] for r in inbox.messages] == ["mum@example.org"]
        assert "behavior event" in str(inbox.messages[0].message["Subject"])
        friday = TODAY + dt.timedelta(days=3)
        assert [due for a, s, _, due in rows(fam) if a == fam.dad] == [ny(17, day=friday)]
        fam.clock.at = ny(17, 1)
        assert fam.app.send_alerts().messages == 0  # the daily time passes: dad chose weekly
        fam.clock.at = ny(17, 1, day=friday)
        assert fam.app.send_alerts().messages == 1
        assert inbox.messages[1].message["To"] == "dad@example.org"
        assert str(inbox.messages[1].message["Subject"]) == "Your weekly summary from the parent portal"
        fam.app.dispose()


def test_an_expansion_that_fails_leaves_its_news_and_what_is_queued_is_still_sent(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch of news that always fails to expand must not stop delivery: the pass logs
    the error's class (never its message), sends what was already queued, and leaves the
    news for the next pass."""
    with smtp_server() as (inbox, port):
        fam = family(tmp_path, sqlite_url, port)
        absence(fam, "00001")
        assert fam.expand() == 1  # queued for mum
        fam.sync(attendance=[mark("00000", TODAY, AttendanceCategory.UNAUTHORISED_ABSENCE, ny(7, 30))])
        with fam.app.cache.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(NEWS)).scalar() == 1

        def fails(*args: object) -> None:
            raise RuntimeError("Ada Parent's row")

        monkeypatch.setattr(detect, "recipients", fails)
        with capture_logs() as logs:
            sent = fam.app.send_alerts()
        assert (sent.messages, sent.alerts, sent.queued) == (1, 1, 0)
        assert len(inbox.messages) == 1
        failed = [e for e in logs if e["event"] == "alerts.expand_failed"]
        assert failed == [
            {"event": "alerts.expand_failed", "error_class": "RuntimeError", "log_level": "warning"}
        ]
        assert "Ada" not in repr(logs)
        with fam.app.cache.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(NEWS)).scalar() == 1
        monkeypatch.undo()
        assert fam.app.send_alerts().queued == 2  # the next pass: mum and dad
        fam.app.dispose()
