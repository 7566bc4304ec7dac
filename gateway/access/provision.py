"""Accounts from SIS data after each sync: one per entitled guardian (by contact id) and student.

A guardian is matched on the SIS contact id (its blind index), never on an email, so a
parent of three children has one account, and two contacts sharing an email get two.
The username is the contact's email, normalised; when the email is missing, or shared
with another contact, or already some other account's username, the account is still
created under a generated username and the invitation step reports that the school
must record an email first. Accounts are never deleted here: access is decided live on
every request, and provisioning runs again after every published sync.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from cache.read.reader import Reader
from cache.snapshots.runs import load_state
from cache.store import Cache
from cache.types import utcnow
from config.settings import PorticoConfig
from gateway.access import accounts
from gateway.access.entitlement import enrolled_students, entitled_contacts
from gateway.access.security import normalise_username


@dataclass
class Provisioned:
    guardians_created: int = 0
    students_created: int = 0
    needs_email: list[str] = field(default_factory=list)  # account ids


def generated_username(role: str) -> str:
    return f"{'g' if role == 'guardian' else 's'}-{secrets.token_hex(5)}"


def _username(email: str | None, shared: Counter[str]) -> str | None:
    if not email or "@" not in email:
        return None
    norm = normalise_username(email)
    return None if shared[norm] > 1 else norm


def provision(cache: Cache, config: PorticoConfig, source: str, today: dt.date | None = None) -> Provisioned:
    """Create pending accounts for every entitled guardian and student of ``source`` that has none."""
    out = Provisioned()
    with cache.engine.begin() as conn:
        state = load_state(conn, source)
        if state is None or state.published_run is None:
            return out
        day = today or dt.datetime.now(dt.UTC).date()
        reader = Reader(conn, cache.keyring)
        people: list[tuple[str, str, str | None]] = [
            ("guardian", ref, c.get("email"))
            for ref, c in entitled_contacts(reader, source, state.published_run, day)
        ]
        if config.access.students_may_sign_in:
            people += [
                ("student", ref, s.get("email"))
                for ref, s in enrolled_students(reader, source, state.published_run, day)
            ]
        shared = Counter(normalise_username(e) for _, _, e in people if e)
        for role, ref, email in people:
            if accounts.find_by_subject(conn, source, ref) is not None:
                continue
            name = _username(email, shared)
            if name is not None and accounts.find_by_username(conn, cache.keyring, name) is not None:
                name = None  # someone else's username already: never merge people on an email
            account_id = accounts.create(
                conn,
                cache.keyring,
                role=role,
                source=source,
                subject_ref=ref,
                username=name or generated_username(role),
            )
            if name is None:
                out.needs_email.append(account_id)
            if role == "guardian":
                out.guardians_created += 1
            else:
                out.students_created += 1
    return out


def after_publish(
    cache: Cache, config: PorticoConfig, clock: Callable[[], dt.datetime] = utcnow
) -> Callable[[str, int], None]:
    """A SyncEngine ``on_published`` callback: provision the source that just published,
    as entitled on ``clock``'s UTC date."""

    def hook(source: str, run_id: int) -> None:
        provision(cache, config, source, today=clock().astimezone(dt.UTC).date())

    return hook
