"""Passwords (argon2id), bearer tokens (256-bit, stored as SHA-256) and username normalisation."""

from __future__ import annotations

import hashlib
import secrets
import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# argon2-cffi's defaults are RFC 9106's second recommended option, argon2id.
_hasher = PasswordHasher()
# Verified against when the username is unknown, so both paths cost one argon2 verify.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(24))


def normalise_password(password: str) -> str:
    """NFKC, as NIST SP 800-63B asks; never truncated."""
    return unicodedata.normalize("NFKC", password)


def normalise_username(username: str) -> str:
    return unicodedata.normalize("NFKC", username).strip().casefold()


def hash_password(password: str) -> str:
    return _hasher.hash(normalise_password(password))


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant work whether or not the account exists (pass None for an unknown user)."""
    try:
        return (
            _hasher.verify(stored_hash or _DUMMY_HASH, normalise_password(password))
            and stored_hash is not None
        )
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def new_token() -> tuple[str, str]:
    """A bearer token (32 bytes from the OS CSPRNG) and the hash that is stored."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
