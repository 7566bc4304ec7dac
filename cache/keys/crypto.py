"""Envelope encryption: key-encryption keys (KEKs), AES-256-GCM, keyed blind indexes.

A KEK file (or environment variable) holds one key per line, ``<kek-id> <base64>``;
the last line is the active KEK, earlier lines are older KEKs still needed to unwrap
data keys until ``portico keys rotate`` has rewrapped them all. KEKs never touch the
database; data keys are stored only wrapped (see :mod:`cache.keys.keystore`).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cache.memo import remember
from config.errors import PorticoError

NONCE_BYTES = 12
KEY_BYTES = 32
_LINE = re.compile(r"^(?P<id>[A-Za-z0-9_-]{1,40})\s+(?P<key>[A-Za-z0-9+/=_-]{40,64})$")


class KeyError_(PorticoError):
    """A key is missing, malformed or wrong; never includes key material."""


class DecryptionError(PorticoError):
    """Ciphertext failed authentication: wrong key, moved between rows, or tampered."""


@dataclass(frozen=True)
class Kek:
    kek_id: str
    key: bytes


class KekRing:
    """The KEKs from a key file: the active one wraps, any of them unwraps."""

    def __init__(self, keks: list[Kek]) -> None:
        if not keks:
            raise KeyError_("the key file holds no key-encryption key")
        self._by_id = {k.kek_id: k for k in keks}
        self.active = keks[-1]
        # One cipher per KEK, made on first use: a sync unwraps thousands of data keys
        # (a new cipher each cost more than the unwrap itself).
        self._aead: dict[str, AESGCM] = {}

    @classmethod
    def parse(cls, text: str, where: str) -> KekRing:
        keks = []
        for n, line in enumerate(text.splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = _LINE.match(line)
            if not m:
                raise KeyError_(f"{where} line {n}: expected '<kek-id> <base64 key>'")
            try:
                key = base64.urlsafe_b64decode(m["key"] + "=" * (-len(m["key"]) % 4))
            except ValueError:
                raise KeyError_(f"{where} line {n}: the key is not base64") from None
            if len(key) != KEY_BYTES:
                raise KeyError_(f"{where} line {n}: a key-encryption key is 32 bytes (256 bits)")
            keks.append(Kek(m["id"], key))
        return cls(keks)

    @property
    def ids(self) -> list[str]:
        return list(self._by_id)

    def get(self, kek_id: str) -> Kek:
        try:
            return self._by_id[kek_id]
        except KeyError:
            raise KeyError_(f"key-encryption key {kek_id!r} is not in the key file") from None

    def _cipher(self, kek: Kek) -> AESGCM:
        aead = self._aead.get(kek.kek_id)
        if aead is None:
            aead = self._aead[kek.kek_id] = AESGCM(kek.key)
        return aead

    def wrap(self, data_key: bytes, key_id: str) -> tuple[str, bytes]:
        nonce = os.urandom(NONCE_BYTES)
        ct = self._cipher(self.active).encrypt(nonce, data_key, f"dk|{key_id}".encode())
        return self.active.kek_id, nonce + ct

    def unwrap(self, kek_id: str, wrapped: bytes, key_id: str) -> bytes:
        kek = self.get(kek_id)
        try:
            return self._cipher(kek).decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], f"dk|{key_id}".encode()
            )
        except InvalidTag:
            raise DecryptionError(f"data key {key_id} does not unwrap under {kek_id}") from None


def new_kek_line(kek_id: str | None = None) -> str:
    """A fresh key-file line: ``<id> <base64 of 32 random bytes>``."""
    kek_id = kek_id or "kek-" + secrets.token_hex(4)
    return f"{kek_id} {base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()}"


class Sealer:
    """AES-256-GCM under one data key; associated data binds ciphertext to its row."""

    __slots__ = ("_aead",)

    def __init__(self, data_key: bytes) -> None:
        self._aead = AESGCM(data_key)

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, blob: bytes, aad: bytes) -> bytes:
        try:
            return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
        except InvalidTag:
            raise DecryptionError("a record failed authentication") from None


class BlindIndex:
    """Keyed BLAKE2b (a PRF, RFC 7693 keyed mode) for lookups and change detection.

    ``ref`` values double as the API's opaque ids: stable, not guessable, not the SIS id.
    Keyed BLAKE2b is one native call per value, several times cheaper than HMAC-SHA256
    from Python, which matters at millions of records per sync.
    """

    __slots__ = ("_key", "_ref_person", "_shared_refs")

    def __init__(self, key: bytes) -> None:
        self._key = key
        # Separate derived keys for ids and for digests (domain separation).
        self._ref_person = b"portico-ref"
        self._shared_refs: dict[tuple[str, ...], str] = {}

    def ref(self, *parts: str) -> str:
        h = hashlib.blake2b(
            "\x1f".join(parts).encode(), key=self._key, digest_size=16, person=self._ref_person
        )
        return base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode()

    def shared_ref(self, *parts: str) -> str:
        """:meth:`ref`, remembered: for the ids of shared records that every request asks
        for again (a student's school, a grade's class), not for a sync's millions of rows."""
        found = self._shared_refs.get(parts)
        if found is None:
            found = remember(self._shared_refs, parts, self.ref(*parts), 10_000)
        return found

    def digest(self, data: bytes) -> bytes:
        return hashlib.blake2b(data, key=self._key, digest_size=16, person=b"portico-digest").digest()

    def row_keyer(self, salt: bytes) -> Callable[[bytes], int]:
        """Keyed 64-bit hashes of source rows under ``salt`` (a signed int: a BIGINT column).

        The keyed state is built once and copied per row: a row costs one copy, update
        and digest, which matters at millions of rows per full pull."""
        base = hashlib.blake2b(key=self._key, digest_size=8, person=b"portico-row")
        base.update(len(salt).to_bytes(4, "big") + salt)
        from_bytes = int.from_bytes

        def key(row: bytes) -> int:
            h = base.copy()
            h.update(row)
            return from_bytes(h.digest(), "big", signed=True)

        return key
