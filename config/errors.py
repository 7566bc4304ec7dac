"""Portico's exception tree, classified by what the caller must do.

    PorticoError
    ├── ConfigError               refuse to start; names file, key path and line
    ├── SecretMissing             a referenced secret is not available; names where it looked (config/secrets.py)
    ├── SchemaVersionError        refuse to start; the database's schema is not this code's: says which command to run
    ├── SourceError               something about a source (SIS) went wrong
    │   ├── SourceUnavailableError    transient: retry later (timeouts, 5xx, 429, refused)
    │   ├── SourceAuthError           stop: an operator must fix credentials or rights
    │   │   ├── FieldRefusedError         a PowerSchool field the plugin does not grant: names table and field (connectors/powerschool/errors.py)
    │   │   └── NotInstalledError         a PowerSchool table or named query the server does not have (connectors/powerschool/errors.py)
    │   └── SourceDataError           the source answered with something unusable (stop the run)
    │       └── SourceChangedError        the source changed while a stream was read in full (retry the run)
    ├── RecordError               one record is bad: set it aside with its reason, count it
    ├── ReadOnlyViolation         a request that could write to a source was refused
    ├── SnapshotHeld              guards held a snapshot for an operator's approval
    ├── SnapshotUnavailableError  nothing published yet: the API answers 503
    ├── KeyError_                 a key is missing, malformed or wrong (cache/keys/crypto.py)
    ├── DecryptionError           a ciphertext failed authentication: wrong key, moved or tampered (cache/keys/crypto.py)
    ├── PurgeError                a purge could not run: a sync holds the lock, or a bad reason code (gateway/privacy/purge.py)
    ├── AuditBroken               the audit chain does not verify: nothing is pruned (gateway/privacy/audit_retention.py)
    ├── MailError                 a message could not be handed to the mail backend (gateway/ops/mail.py)
    └── BackupError               a backup could not be made: says why, or the PostgreSQL tool to use (cache/backup.py)

The tree is checked against the classes (``tests/repo/test_docs.py``): a new error
class appears here, under its parent, or the tests fail.

Every message is safe to log: it may name files, rows, keys, fields, streams and
counts, never record contents, response bodies, tokens or passwords.
"""

from __future__ import annotations

from dataclasses import dataclass


class PorticoError(Exception):
    """Base of every error Portico raises on purpose."""


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in a config file: where it is and what was expected."""

    file: str
    key: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = self.key or "(top level)"
        return f"{where}: {key}: {self.message}"


class ConfigError(PorticoError):
    """The configuration is invalid; carries every problem found, not just the first."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class SchemaVersionError(PorticoError):
    """The cache's or keystore's schema is not the one this code was written for."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class SourceError(PorticoError):
    """A source could not be read."""


class SourceUnavailableError(SourceError):
    """Transient: the source is down, slow or throttling. Retry later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SourceAuthError(SourceError):
    """The source refused our credentials or rights. Stop; an operator must act."""


class SourceDataError(SourceError):
    """The source answered with data Portico cannot use as a whole (stop this run)."""


class SourceChangedError(SourceDataError):
    """The source changed while a stream was being read in full: retry the run, publish nothing."""


class RecordError(PorticoError):
    """One record is malformed; it is set aside with this reason and counted.

    ``where`` names the file/row or stream/key, ``field`` the offending field; the
    message never includes the value itself.
    """

    def __init__(self, reason: str, *, where: str = "", field: str = "") -> None:
        self.reason = reason
        self.where = where
        self.field = field
        parts = [p for p in (where, field and f"field {field}", reason) if p]
        super().__init__(": ".join(parts))


class ReadOnlyViolation(PorticoError):
    """A request that is not on the read allow-list was refused before leaving the process."""


class SnapshotHeld(PorticoError):
    """A guard held the snapshot; the last published one keeps serving."""

    def __init__(self, run_id: int, reasons: list[str]) -> None:
        self.run_id = run_id
        self.reasons = reasons
        super().__init__(f"run {run_id} held: " + "; ".join(reasons))


class SnapshotUnavailableError(PorticoError):
    """No snapshot has been published yet."""
