"""Password-expiry reminders (presets that expire): one at day N, then daily from day M.

The ``school-aup`` preset reminds at day 80 and daily from day 85 until the password
expires at day 90. A reminder missed because the job did not run that day is sent at
the next run inside its window, and never twice for the same day. Run
:func:`send_due` daily (``portico accounts remind``, or the scheduler).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from cache.store import Cache
from cache.tables.accounts import Account
from cache.tables.core import core_table
from config.settings import PorticoConfig
from gateway.access import accounts, credentials
from gateway.access.passwords import Preset, preset
from gateway.ops.mail import Mailer, MailError, Message

ACCOUNTS = core_table(Account)


def age_days(account: Account, now: dt.datetime) -> int | None:
    if account.password_changed_at is None:
        return None
    return (now - account.password_changed_at).days


def due(policy: Preset, account: Account, now: dt.datetime) -> bool:
    """Whether a reminder should go out now."""
    day = age_days(account, now)
    first, daily, end = policy.remind_at_day, policy.remind_daily_from_day, policy.expires_after_days
    if day is None or first is None or end is None or day < first or day >= end:
        return False
    sent = [int(d) for d in (account.reminders or {}).get("days", [])]
    if daily is not None and day >= daily:
        return day not in sent
    return not any(d >= first for d in sent)


def reminder_state(policy: Preset, account: Account, now: dt.datetime) -> dict[str, Any] | None:
    if policy.expires_after_days is None or account.password_changed_at is None:
        return None
    day = age_days(account, now) or 0
    sent = [int(d) for d in (account.reminders or {}).get("days", [])]
    return {
        "password_age_days": day,
        "days_left": max(0, policy.expires_after_days - day),
        "reminders_sent_on_days": sent,
        "first_reminder_day": policy.remind_at_day,
        "daily_from_day": policy.remind_daily_from_day,
    }


@dataclass
class Sent:
    sent: int = 0
    no_email: int = 0
    failed: int = 0


def send_due(cache: Cache, config: PorticoConfig, mailer: Mailer, now: dt.datetime) -> Sent:
    """Email every active account whose reminder is due now; record the day sent."""
    policy = preset(config.access.password_policy)
    out = Sent()
    if policy.remind_at_day is None:
        return out
    with cache.engine.begin() as conn:
        rows = conn.execute(select(ACCOUNTS).where(ACCOUNTS.c.status == "active")).mappings().all()
        for row in rows:
            account = Account(**row)
            if not due(policy, account, now):
                continue
            email = credentials.holder(conn, cache.keyring, account).email
            if not email:
                out.no_email += 1
                continue
            day = age_days(account, now) or 0
            left = (policy.expires_after_days or 0) - day
            try:
                mailer.send(
                    Message(
                        email,
                        f"Your parent portal password expires in {left} day{'s' if left != 1 else ''}",
                        f"Your {config.district.name} parent portal password expires in {left} days. "
                        "Sign in and choose a new one before then; after that you will be asked to "
                        "change it when you next sign in.",
                        kind="reminder",
                    )
                )
            except MailError:
                out.failed += 1
                continue
            days = [*[int(d) for d in (account.reminders or {}).get("days", [])], day]
            accounts.set_fields(conn, account.id, reminders={"days": days[-20:]})
            out.sent += 1
    return out
