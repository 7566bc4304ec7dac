"""A run's change set, collected while it is staged: what a watcher (alerts) needs of the
new versions of the kinds it watches, and of the versions they retire.

The staging holds every new version's record while it encodes and encrypts it, and knows
which current version (if any) the new one replaces. A :class:`ChangeSet` asks the
watcher to summarise each new version of its kinds (``summarise``, given the kind and the
version's fields: the record's attributes, read in place); a version with an empty
summary is not kept. For those kept only, the retired version (read with the current
versions) is opened with the cipher the staging seals its owner's new version with, decoded
and summarised alike: after the publish, the watcher needs neither to read nor to decrypt
the run's versions again. Nothing here is written anywhere: it lives in the syncing
process for one run and is handed to the after-publish hooks. The staging counts the CPU
all this takes (``cpu``), so benchmarks can tell it from the publish's own.

A change set that grows past ``limit`` versions (a first snapshot, a mass correction) stops
collecting and says so (``overflow``): the watcher then reads the run from the cache
instead, so memory stays bounded whatever the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Versions kept before a change set gives up (see ``overflow``): about 450 B each in memory
# with the retired version's summary, and some 180 B more for its two refs (an attendance
# mark, measured with tracemalloc), so at most about 65 MB (1.7 KB each with payloads).
LIMIT = 100_000

# A version's field by name: a staged record's attribute (``record.__getattribute__``), or
# a stored payload's key (``dict.get``). A summariser asks only for its kind's fields.
Fields = Callable[[str], Any]


@dataclass(slots=True)
class StagedVersion:
    """One new version of a watched kind: its columns, its summary, the retired one's summary."""

    kind: str
    ref: str
    student_ref: str | None
    parent_ref: str | None
    stamp: Any
    day: Any
    audience: str | None  # a notice's audience (cache.snapshots.encode.Encoder.audience)
    key_id: str  # the data key the new version is sealed under (its owner's)
    summary: dict[str, Any]
    old: dict[str, Any] | None  # the summary of the version this one retires; None for a new record


@dataclass
class ChangeSet:
    """What a watcher asks the staging to keep: of the new versions of ``kinds``, the summary
    ``summarise`` makes of each (given the kind and the version's fields); an empty one is
    not kept."""

    kinds: frozenset[str]
    summarise: Callable[[str, Fields], dict[str, Any]]
    limit: int = LIMIT
    versions: list[StagedVersion] = field(default_factory=list)
    overflow: bool = False
    seen: int = 0  # new versions of watched kinds looked at (kept or not)
    cpu: float = 0.0  # process CPU seconds the staging spent collecting (benchmarks report it)

    def extend(self, versions: list[StagedVersion]) -> None:
        """Keep a batch's ``versions``; past ``limit`` versions in all, keep none (the set
        overflows, and detection reads the run back instead)."""
        if self.overflow:
            return
        if len(self.versions) + len(versions) > self.limit:
            self.overflow = True
            self.versions = []
            return
        self.versions.extend(versions)
