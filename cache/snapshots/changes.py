"""A run's change set, collected while it is staged: the new versions of the kinds someone
watches (alerts), in plaintext, with the versions they retire.

The staging holds every new version's canonical payload in clear while it encrypts it, and
knows which current version (if any) the new one replaces. A :class:`ChangeSet` keeps the
new versions a watcher may care about (``keep``), and for those only opens the retired
version (one read per batch, by row id): after the publish, the watcher needs neither to
read nor to decrypt the run's versions again. Nothing here is written anywhere: it lives
in the syncing process for one run and is handed to the after-publish hooks.

A change set that grows past ``limit`` versions (a first snapshot, a mass correction) stops
collecting and says so (``overflow``): the watcher then reads the run from the cache
instead, so memory stays bounded whatever the run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Versions kept before a change set gives up (see ``overflow``): about 1.7 KB each in
# memory with their retired versions (an attendance mark), so at most about 170 MB.
LIMIT = 100_000


@dataclass(slots=True)
class StagedVersion:
    """One new version of a watched kind: its columns, its payload, the retired one's payload."""

    kind: str
    ref: str
    student_ref: str | None
    parent_ref: str | None
    stamp: Any
    day: Any
    audience: str | None  # a notice's audience (cache.snapshots.encode.Encoder.audience)
    data: dict[str, Any]
    old: dict[str, Any] | None  # the version this one retires; None for a new record


@dataclass
class ChangeSet:
    """What a watcher asks the staging to keep: ``kinds``, and of those the versions ``keep``
    says may be news (given the kind and the decoded payload)."""

    kinds: frozenset[str]
    keep: Callable[[str, Mapping[str, Any]], bool]
    limit: int = LIMIT
    versions: list[StagedVersion] = field(default_factory=list)
    overflow: bool = False
    seen: int = 0  # new versions of watched kinds looked at (kept or not)
    cpu: float = 0.0  # process CPU seconds the staging spent collecting (benchmarks report it)

    def add(self, version: StagedVersion) -> None:
        if self.overflow:
            return
        if len(self.versions) >= self.limit:
            self.overflow = True
            self.versions = []
            return
        self.versions.append(version)
