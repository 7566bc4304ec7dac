"""Account rows: creation, lookup by username (blind index), and decrypting a username."""

from __future__ import annotations

import secrets

from sqlalchemy import Connection, insert, select, update

from cache.keys.keystore import Keyring
from cache.snapshots.encode import aad
from cache.tables.accounts import Account
from cache.tables.core import core_table
from cache.types import utcnow
from gateway.access.security import hash_password, normalise_username

ACCOUNTS = core_table(Account)


def owner_of(role: str, subject_ref: str) -> str:
    """Account data is encrypted under the person's own data key (purged with them)."""
    return f"{'contact' if role == 'guardian' else 'student'}:{subject_ref}"


def username_index(keyring: Keyring, username: str) -> str:
    return keyring.index.ref("username", normalise_username(username))


def find_by_username(conn: Connection, keyring: Keyring, username: str) -> Account | None:
    row = conn.execute(select(ACCOUNTS).where(ACCOUNTS.c.username_index == username_index(keyring, username)))
    m = row.mappings().first()
    return Account(**m) if m else None


def get(conn: Connection, account_id: str) -> Account | None:
    m = conn.execute(select(ACCOUNTS).where(ACCOUNTS.c.id == account_id)).mappings().first()
    return Account(**m) if m else None


def find_by_subject(conn: Connection, source: str, subject_ref: str) -> Account | None:
    m = (
        conn.execute(
            select(ACCOUNTS).where(ACCOUNTS.c.source == source, ACCOUNTS.c.subject_ref == subject_ref)
        )
        .mappings()
        .first()
    )
    return Account(**m) if m else None


def create(
    conn: Connection,
    keyring: Keyring,
    *,
    role: str,
    source: str,
    subject_ref: str,
    username: str,
    password: str | None = None,
    aup_version: str | None = None,
) -> str:
    """Create an account (pending until a password is set); returns its id."""
    owner = owner_of(role, subject_ref)
    key_id = keyring.fresh_key_for(owner)  # a purge elsewhere may have destroyed a cached key
    account_id = "acc_" + secrets.token_urlsafe(12)
    now = utcnow()
    index = username_index(keyring, username)
    sealed = keyring.sealer(key_id).seal(
        normalise_username(username).encode(), aad("account", "username", index, key_id)
    )
    values = dict(
        id=account_id,
        role=role,
        source=source,
        subject_ref=subject_ref,
        username_index=index,
        username_enc=sealed,
        key_id=key_id,
        status="pending",
        password_history=[],
        created_at=now,
        reminders={},
    )
    if password is not None:
        values.update(
            status="active", password_hash=hash_password(password), password_changed_at=now, activated_at=now
        )
    if aup_version is not None:
        values.update(aup_version=aup_version, aup_accepted_at=now)
    conn.execute(insert(ACCOUNTS).values(**values))
    return account_id


def username_of(keyring: Keyring, account: Account) -> str:
    blob = keyring.sealer(account.key_id).open(
        account.username_enc, aad("account", "username", account.username_index, account.key_id)
    )
    return blob.decode()


def set_fields(conn: Connection, account_id: str, **values: object) -> None:
    conn.execute(update(ACCOUNTS).where(ACCOUNTS.c.id == account_id).values(**values))
