"""The connector contract: streams, pages of canonical records, and state.

A connector turns one source (a SIS API, an export folder) into canonical records
(:mod:`connectors.records`). It is small on purpose:

``streams()``
    The streams it can read, each naming the record kinds it produces.
``check()``
    A cheap reachability/configuration check; returns a list of problems (empty
    when fine). Never raises for an unreachable source.
``read(stream, state, full=..., known=...)``
    Yields :class:`Page` objects in order. Records that cannot be normalised are
    returned in ``Page.rejected`` as :class:`~config.errors.RecordError` (set
    aside and counted), never raised. Errors that stop the stream are raised:
    :class:`~config.errors.SourceUnavailableError` (retry later),
    :class:`~config.errors.SourceAuthError` (operator action),
    :class:`~config.errors.SourceDataError` (stop this run).

State is an opaque string per stream (an incremental cursor). The connector returns
the new cursor on the last page; the sync engine saves it only in the same
transaction that publishes the data it describes, so a crash never skips data.

A page says whether the stream is being read in full (``full=True``): only after a
complete full read may the engine treat records it did not see as deleted.

Key-only confirmation (optional, for paged sources): a connector whose pages carry
``Page.keys`` (the source key of every row read, records and set-aside rows alike) and
that has ``read_keys(stream)`` (:class:`KeyReader`) lets the engine confirm a full read
by re-reading the key columns only, instead of the whole stream.

Row keys (optional, for connectors that re-read whole files): a stream declared with
``StreamInfo(row_keys=True)`` is read as ``read(stream, state, full=..., known=...)``
with a :class:`KnownRows` from the engine. The connector hashes each raw row with
``known.keyer(salt)`` and asks ``take`` before normalising it: a known row is already
held unchanged, so it is skipped (counted in ``Page.known``); the records of other
rows carry their row's key in ``Page.row_keys`` for the engine to store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import httpx
from pydantic import BaseModel

from config.errors import RecordError
from config.secrets import SecretResolver
from connectors.records import Record
from connectors.rules import Policy, Tally


@dataclass(frozen=True)
class StreamInfo:
    """A stream a connector can read and the record kinds it yields."""

    name: str
    kinds: tuple[str, ...]
    incremental: bool = False
    # True when one read is a consistent snapshot of the source (a file checked for change
    # after reading); False for paged APIs, whose full reads the engine confirms when ids
    # came or went (offset paging can slip a row if the source changes mid-read).
    consistent: bool = False
    # True when its records carry row keys (module docstring); every read of it is full.
    row_keys: bool = False


@dataclass
class Page:
    """One page of a stream: records, set-aside rows, and progress information."""

    records: list[Record]
    rejected: list[RecordError] = field(default_factory=list)
    full: bool = True
    cursor: str | None = None
    expected_total: int | None = None
    retries: int = 0
    # Aligned with ``records`` when not empty: the key of the row each came from (or None).
    row_keys: list[int | None] = field(default_factory=list)
    # Rows the engine already held (``KnownRows``): skipped, so not in ``records``.
    known: int = 0
    # The source key of every row this page read, records and set-aside rows alike
    # (``KeyReader``); None when the connector does not report them.
    keys: list[str] | None = None


@dataclass
class Probe:
    """Outcome of :meth:`Prober.probe`: whether the source answered, and its clock.

    ``problem`` is a safe-to-log sentence (None: reachable, credentials accepted);
    ``server_time`` is the source's ``Date`` header when it sent one."""

    problem: str | None
    server_time: dt.datetime | None = None


@runtime_checkable
class Prober(Protocol):
    """A connector whose source is a server: one cheap, bounded request (``portico doctor``)."""

    def probe(self, timeout: float) -> Probe:
        """Reach the source once within ``timeout`` seconds, without retries."""
        ...


@dataclass
class CheckResult:
    """Outcome of ``Connector.check``: problems are safe-to-log sentences."""

    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class KnownRows(Protocol):
    """The engine's memory of the source rows behind the versions it holds (see module docstring).

    A row key is a keyed hash of the row's raw cells and a ``salt`` naming everything its
    normalisation depends on (mapping, options, the code, the date where it matters):
    the same key means the same canonical record, so the row need not be normalised.
    Use it only where one row gives at most one record with no merging across rows.
    """

    def keyer(self, salt: bytes) -> Callable[[bytes], int]:
        """The function from a row's bytes (an injective encoding of its cells) to its key."""
        ...

    def taker(self, kind: str) -> Callable[[int], bool]:
        """``take(key)``: True when the current version of ``kind`` came from a row with this
        key; it is then counted unchanged and not deleted (once: a repeat is False)."""
        ...


@runtime_checkable
class Connector(Protocol):
    """What the sync engine needs from a connector (see module docstring)."""

    name: str

    def streams(self) -> list[StreamInfo]:
        """The streams this connector reads, in the order they should be read."""
        ...

    def check(self) -> CheckResult:
        """Check the source can be reached and is configured right."""
        ...

    def read(
        self, stream: str, state: str | None, *, full: bool = False, known: KnownRows | None = None
    ) -> Iterator[Page]:
        """Yield pages of ``stream``; incremental from ``state`` unless ``full``. Streams
        declared with ``row_keys`` are given ``known`` (a :class:`KnownRows`); others never."""
        ...

    def close(self) -> None:
        """Release network clients and file handles."""
        ...


@runtime_checkable
class KeyReader(Protocol):
    """A connector that can re-read a stream's row keys alone (module docstring)."""

    def read_keys(self, stream: str) -> Iterator[list[str]]:
        """The source keys of every row of ``stream``, read in full, a page at a time."""
        ...


@runtime_checkable
class AccessSampler(Protocol):
    """A connector whose links are decided by the district's written access rule
    (:mod:`connectors.rules`) and can show what that rule decides over its source."""

    def access_sample(self, limit: int) -> Tally:
        """The rule applied to the source's links now (at most ``limit`` of them), without
        publishing anything. Raises as ``read`` would when the source cannot be read."""
        ...


@dataclass
class BuildContext:
    """What a connector may need beyond its options: injected for tests and the demo."""

    secrets: SecretResolver = field(default_factory=SecretResolver)
    base_dir: Path = field(default_factory=Path.cwd)
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] | None = None


# A config check against the world (files present, columns mapped): problems as
# (key path under the connector's ``options``, plain sentence).
ConfigCheck = Callable[[Any, Path], list[tuple[tuple[str | int, ...], str]]]


def no_config_check(options: Any, base_dir: Path) -> list[tuple[tuple[str | int, ...], str]]:
    return []


def no_access_policy(options: Any) -> Policy | None:
    """For sources whose own flags decide access (parental responsibility, portal access,
    no court order): there is no written rule to show or audit."""
    return None


@dataclass(frozen=True)
class ConnectorType:
    """A connector type as YAML names it: its options model (pydantic, ``extra="forbid"``),
    how to build one, what ``portico config validate`` checks beyond the options, and the
    district's written access rule in those options, if the type has one."""

    name: str
    options_model: type[BaseModel]
    build: Callable[[str, Any, BuildContext], Connector]
    check_config: ConfigCheck = no_config_check
    access_policy: Callable[[Any], Policy | None] = no_access_policy


__all__ = [
    "AccessSampler",
    "BuildContext",
    "CheckResult",
    "ConfigCheck",
    "Connector",
    "ConnectorType",
    "KeyReader",
    "KnownRows",
    "Page",
    "Probe",
    "Prober",
    "RecordError",
    "StreamInfo",
]
