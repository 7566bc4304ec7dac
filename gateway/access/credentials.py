"""Setting a password under the configured preset, and who an account holder is (names, email).

Every password set (activation, change, reset) goes through :func:`set_password`, which
keeps the history the preset needs and ends every session of the account at once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyotp
from sqlalchemy import Connection

from cache.keys.keystore import Keyring
from cache.read.reader import Reader
from cache.snapshots.encode import aad
from cache.snapshots.runs import load_state
from cache.tables.accounts import Account
from config.settings import PorticoConfig
from gateway.access import accounts, passwords, sessions, tokens
from gateway.access.entitlement import person
from gateway.access.security import hash_password


@dataclass(frozen=True)
class Holder:
    names: list[str]
    email: str | None


def holder(conn: Connection, keyring: Keyring, account: Account) -> Holder:
    """The account holder's names and email from the published snapshot (the SIS is the truth)."""
    state = load_state(conn, account.source)
    if state is None or state.published_run is None:
        return Holder([], None)
    kind = "contact" if account.role == "guardian" else "student"
    rec = person(Reader(conn, keyring), account.source, state.published_run, kind, account.subject_ref)
    if rec is None:
        return Holder([], None)
    keys = (
        ("first_name", "last_name")
        if kind == "contact"
        else ("legal_first_name", "legal_last_name", "preferred_first_name", "preferred_last_name")
    )
    return Holder([rec[k] for k in keys if rec.get(k)], rec.get("email"))


def problems(
    conn: Connection, keyring: Keyring, config: PorticoConfig, account: Account, new_password: str
) -> list[str]:
    """Every rule of the configured preset the new password breaks."""
    policy = passwords.preset(config.access.password_policy)
    history = [*account.password_history, *([account.password_hash] if account.password_hash else [])]
    return passwords.unmet(
        policy,
        new_password,
        names=holder(conn, keyring, account).names,
        username=accounts.username_of(keyring, account),
        history=history,
        mfa=account.totp_confirmed_at is not None,
        context_words=("portico", *config.district.name.split()),
    )


def set_password(
    conn: Connection, config: PorticoConfig, account: Account, new_password: str, now: dt.datetime
) -> None:
    """Store the new hash, keep the history, activate a pending account, end every session."""
    policy = passwords.preset(config.access.password_policy)
    history = list(account.password_history)
    if account.password_hash and policy.history:
        history = [*history, account.password_hash][-policy.history :]
    values: dict[str, object] = dict(
        password_hash=hash_password(new_password),
        password_history=history,
        password_changed_at=now,
        reminders={},
    )
    if account.status == "pending":
        values.update(status="active", activated_at=now)
    accounts.set_fields(conn, account.id, **values)
    sessions.end_all(conn, account.id)
    tokens.cancel_unused(conn, account.id, "reset", now)  # a new password retires every reset link


def totp_secret(keyring: Keyring, account: Account) -> str | None:
    if account.totp_secret_enc is None:
        return None
    blob = keyring.sealer(account.key_id).open(
        account.totp_secret_enc, aad("account", "totp", account.id, account.key_id)
    )
    return blob.decode()


def seal_totp(keyring: Keyring, account: Account, secret: str) -> bytes:
    return keyring.sealer(account.key_id).seal(
        secret.encode(), aad("account", "totp", account.id, account.key_id)
    )


def totp_ok(keyring: Keyring, account: Account, code: str | None) -> bool:
    secret = totp_secret(keyring, account)
    # One step either side: a phone's clock a little off still signs in.
    return bool(secret and code and pyotp.TOTP(secret).verify(code.strip(), valid_window=1))
