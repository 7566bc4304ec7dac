"""One-click unsubscribe (RFC 8058): a link that turns one kind of alert off, with no sign-in.

The token names an account and a scope (an alert kind, or ``daily``/``weekly`` for a
digest) and carries a keyed BLAKE2b MAC of both under the cache's index key: it cannot
be made for another account or scope, and nothing is stored to look it up. A ``POST``
to ``/u/TOKEN`` turns that scope off; a ``GET`` only shows the button (mail scanners
follow links, and must not unsubscribe anyone).
"""

from __future__ import annotations

import datetime as dt
import hmac

from sqlalchemy import Connection

from cache.keys.keystore import Keyring
from config.settings import ALERT_KINDS, PorticoConfig
from gateway.alerts import prefs as prefs_

DIGESTS = ("daily", "weekly")
SCOPES = (*ALERT_KINDS, *DIGESTS)
_DOMAIN = "\x00alerts-unsubscribe"  # no source name can start with NUL: a ref of its own


def _mac(keyring: Keyring, account_id: str, scope: str) -> str:
    return keyring.index.ref(_DOMAIN, account_id, scope)


def token(keyring: Keyring, account_id: str, scope: str) -> str:
    if scope not in SCOPES:
        raise ValueError(f"not an unsubscribe scope: {scope}")
    return f"{account_id}.{scope}.{_mac(keyring, account_id, scope)}"


def unsubscribe_url(keyring: Keyring, config: PorticoConfig, account_id: str, scope: str) -> str:
    return config.portal_url(f"/u/{token(keyring, account_id, scope)}")


def verify(keyring: Keyring, raw: str) -> tuple[str, str] | None:
    """(account id, scope) of a genuine token; None for anything else."""
    if len(raw) > 200:
        return None
    parts = raw.rsplit(".", 2)
    if len(parts) != 3:
        return None
    account_id, scope, mac = parts
    if scope not in SCOPES or not account_id:
        return None
    if not hmac.compare_digest(_mac(keyring, account_id, scope), mac):
        return None
    return account_id, scope


def apply(conn: Connection, config: PorticoConfig, account_id: str, scope: str, now: dt.datetime) -> None:
    """Turn ``scope`` off for every child of the account, present and future (caller commits)."""
    settings = config.alerts
    if scope not in DIGESTS:
        prefs_.turn_off(conn, account_id, scope, [], now)
        return
    current = prefs_.load(conn, account_id)
    kids = {ref: dict(kinds) for ref, kinds in current.children.items()}
    every = kids.setdefault(prefs_.EVERY_CHILD, {})
    for ref in list(kids):
        for kind in settings.kinds:
            if current.mode(settings, ref, kind) == scope:
                kids[ref][kind] = "off"
    for kind in settings.kinds:
        if every.get(kind, settings.default_for(kind)) == scope:
            every[kind] = "off"
    prefs_.save(conn, account_id, prefs_.Prefs(kids, current.threshold, current.quiet, current.language), now)
