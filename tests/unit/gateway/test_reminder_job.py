"""``serve``/``worker`` schedule password-expiry reminders each morning in the district's time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from gateway.bootstrap import REMINDERS_JOB, build_application
from tests.support.config import make_config


def test_the_reminder_job_runs_daily_at_half_past_seven_local_and_sends_through_the_outbox(
    tmp_path: Path, sqlite_url: str
) -> None:
    config, secrets = make_config(
        tmp_path,
        sqlite_url,
        access={"password_policy": "school-aup"},
        mail={"backend": "outbox", "outbox_dir": str(tmp_path / "outbox")},
    )
    app = build_application(config, base_dir=tmp_path, secrets=secrets)
    try:
        job = app.scheduler().scheduler.get_job(REMINDERS_JOB)
        assert job is not None
        tz = ZoneInfo(config.district.timezone)
        now = dt.datetime(2026, 3, 7, 6, 0, tzinfo=tz)  # DST starts in New York at 02:00 on 8 March
        first = job.trigger.get_next_fire_time(None, now)
        second = job.trigger.get_next_fire_time(first, first + dt.timedelta(seconds=1))
        assert (first.hour, first.minute, second.hour, second.minute) == (7, 30, 7, 30)
        assert second.astimezone(dt.UTC) - first.astimezone(dt.UTC) == dt.timedelta(
            hours=23
        )  # still 07:30 local
        job.func()  # no account is due: runs cleanly, sends nothing
        assert not (tmp_path / "outbox").exists() or not any((tmp_path / "outbox").iterdir())
    finally:
        app.dispose()
