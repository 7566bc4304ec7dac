"""Invitations: an email with a single-use activation token to each chosen pending account.

The address is the one the SIS holds now for the person (never one typed into
Portico). An account whose person has no email, or shares it with another contact, is
reported as needing an email instead: the school fixes the SIS record and invites again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from cache.read.reader import Reader
from cache.snapshots.runs import load_state
from cache.store import Cache
from cache.tables.accounts import Account
from cache.tables.core import core_table
from config.settings import PorticoConfig
from gateway.access import accounts, credentials, tokens
from gateway.access.entitlement import emails, school_people
from gateway.access.security import normalise_username
from gateway.ops.mail import Mailer, MailError, Message

ACCOUNTS = core_table(Account)


@dataclass
class Invited:
    sent: list[str] = field(default_factory=list)  # account ids
    needs_email: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    not_pending: list[str] = field(default_factory=list)


def pending_ids(conn: Connection, source: str | None = None) -> list[str]:
    q = select(ACCOUNTS.c.id).where(ACCOUNTS.c.status == "pending").order_by(ACCOUNTS.c.created_at)
    if source is not None:
        q = q.where(ACCOUNTS.c.source == source)
    return [r.id for r in conn.execute(q)]


def school_account_ids(conn: Connection, cache: Cache, source: str, school_ref: str) -> list[str]:
    """Pending accounts of a school's students and of the guardians linked to them."""
    state = load_state(conn, source)
    if state is None or state.published_run is None:
        return []
    wanted = school_people(Reader(conn, cache.keyring), source, state.published_run, school_ref)
    found = [accounts.get(conn, a) for a in pending_ids(conn, source)]
    return [a.id for a in found if a is not None and a.subject_ref in wanted]


def _shared_emails(conn: Connection, cache: Cache, source: str) -> Counter[str]:
    state = load_state(conn, source)
    if state is None or state.published_run is None:
        return Counter()
    return Counter(
        normalise_username(e) for e in emails(Reader(conn, cache.keyring), source, state.published_run)
    )


def invite(cache: Cache, config: PorticoConfig, mailer: Mailer, account_ids: list[str]) -> Invited:
    out = Invited()
    shared: dict[str, Counter[str]] = {}
    for account_id in account_ids:
        with cache.engine.begin() as conn:
            account = accounts.get(conn, account_id)
            if account is None or account.status != "pending":
                out.not_pending.append(account_id)
                continue
            if account.source not in shared:
                shared[account.source] = _shared_emails(conn, cache, account.source)
            email = credentials.holder(conn, cache.keyring, account).email
            if not email or "@" not in email or shared[account.source][normalise_username(email)] > 1:
                out.needs_email.append(account_id)
                continue
            token = tokens.issue(conn, account.id, "invite", config.access.invitation_ttl)
            username = accounts.username_of(cache.keyring, account)
            days = config.access.invitation_ttl.days or 1
            message = Message(
                email,
                f"Your {config.district.name} parent portal account",
                f"The school has confirmed your access to the {config.district.name} parent portal.\n\n"
                f"Your username: {username}\n\nOpen this link to choose your password (valid {days} days, once):\n"
                f"{config.portal_url('/activate?token=' + token)}\n\n"
                f"An app that signs in for you asks for the activation code instead:\n\n{token}\n\n"
                "Your account is yours alone: do not share it.",
                kind="invitation",
            )
            try:
                mailer.send(message)
            except MailError:
                conn.rollback()
                out.failed.append(account_id)
                continue
        out.sent.append(account_id)
    return out
