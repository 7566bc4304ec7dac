"""The OneRoster 1.1/1.2 CSV connector: a bundle (zip or folder), or a folder of bundles.

Every read rebuilds the district's current OneRoster data from the bundles (the newest
bulk file of each kind with the deltas after it: ``tables.py``) and publishes it as a
full snapshot, so a delta changes only what it names, an ``absent`` file changes
nothing, and a ``tobedeleted`` row is deleted. The rebuild is done once per content
fingerprint and day and shared by the streams of a run. Bad rows come back in
``Page.rejected`` naming bundle, file, row and column, never the cell; past
``max_rejected`` in a stream the run is held. Attendance and behaviour are not part of
OneRoster: a second source supplies them (``students_of`` in YAML).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from config.errors import PorticoError, RecordError, SourceChangedError, SourceDataError
from connectors import records as rec
from connectors.base import BuildContext, CheckResult, ConnectorType, KnownRows, Page, StreamInfo
from connectors.oneroster import classes, people, schools
from connectors.oneroster.options import Options
from connectors.oneroster.package import Packages
from connectors.oneroster.tables import Tables
from connectors.rules import Policy, Tally

log = structlog.get_logger(__name__)

STREAMS: dict[str, tuple[str, ...]] = {
    "school": ("school",),
    "students": ("student",),
    "contacts": ("contact", "link"),
    "classes": ("section",),
    "class_members": ("enrollment",),
    "assignments": ("assignment",),
    "assignment_results": ("result",),
}


@dataclass
class Snapshot:
    """Everything one rebuild produced, by stream."""

    fingerprint: str
    records: dict[str, list[rec.Record]] = field(default_factory=dict)
    errors: dict[str, list[RecordError]] = field(default_factory=dict)


def rebuild(packages: Packages, options: Options, today: dt.date, now: float) -> Snapshot:
    bundles = packages.bundles(now)
    fingerprint = hashlib.sha256("\n".join(f"{b.name}:{b.sha256}" for b in bundles).encode()).hexdigest()
    tables = Tables(packages, bundles)
    tables.check()
    if tables.version == "1.2" and not tables.supplied("roles"):
        raise SourceDataError(
            "roles.csv is absent from every bundle: a 1.2 package says who is a student there; run held"
        )
    snap = Snapshot(fingerprint)
    errors: dict[str, list[RecordError]] = {}
    sessions = schools.sessions_by_id(tables, errors)
    served = schools.schools_of(tables, options, today, sessions.values())
    school_ids = {s.source_id for s in served}
    terms = {sid: row["title"] for sid, (row, _, _) in sessions.items()}
    users = people.load_users(tables, today, errors)
    cls, student_rows = classes.build_classes(tables, school_ids, today, terms, users)
    found = people.build_people(tables, options, today, school_ids, cls.homerooms, users, errors)
    classes.enrollments(cls, student_rows, found.keys)
    assignments, a_errors = classes.assignments(tables, cls.served)
    results, r_errors = classes.results(tables, found.keys, {a.source_id for a in assignments})
    snap.records = {
        "school": list(served),
        "students": list(found.students.values()),
        "contacts": [*found.contacts.values(), *found.links],
        "classes": list(cls.sections),
        "class_members": list(cls.enrollments),
        "assignments": list(assignments),
        "assignment_results": list(results),
    }
    for source in (errors, cls.errors, {"assignments": a_errors, "assignment_results": r_errors}):
        for stream, errs in source.items():
            snap.errors.setdefault(stream, []).extend(errs)
    # Rows set aside while reading a file belong to the stream that file feeds first.
    feeds = {"users": "students", "roles": "students", "demographics": "students", "orgs": "school",
             "academicSessions": "school", "courses": "classes", "classes": "classes",
             "enrollments": "class_members", "categories": "assignments", "lineItems": "assignments",
             "results": "assignment_results"}  # fmt: skip
    for file, errs in tables.errors.items():
        snap.errors.setdefault(feeds.get(file, "students"), []).extend(errs)
    return snap


class OneRosterConnector:
    """Reads a district's OneRoster CSV bundles (see module docstring)."""

    def __init__(
        self, name: str, options: Options, *, base_dir: Path, clock: Callable[[], dt.datetime] | None = None
    ) -> None:
        self.name = name
        self.options = options
        self.path = base_dir / options.path
        self.packages = Packages(
            self.path,
            order=options.order,
            settle_seconds=options.settle_seconds,
            max_file_bytes=options.max_file_bytes,
        )
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._last: tuple[tuple[str, dt.date], Snapshot] | None = None

    def streams(self) -> list[StreamInfo]:
        # A rebuild is consistent: every bundle is hashed before its files are used.
        return [StreamInfo(name, kinds, consistent=True) for name, kinds in STREAMS.items()]

    def check(self) -> CheckResult:
        try:
            snap = self.snapshot()
        except PorticoError as exc:
            return CheckResult([str(exc)])
        if not snap.records["school"]:
            return CheckResult(["orgs.csv: no org of type school (or none of options.schools)"])
        return CheckResult()

    def today(self) -> dt.date:
        return self._clock().astimezone(ZoneInfo(self.options.timezone)).date()

    def snapshot(self) -> Snapshot:
        """The current rebuild, shared by every stream of a run (a connector is built per
        run); bundles that change between two streams fail the read with SourceChangedError."""
        now = time.time()
        today = self.today()
        bundles = self.packages.bundles(now)
        key = ("\n".join(f"{b.name}:{b.sha256}" for b in bundles), today)
        if self._last is None or self._last[0] != key:
            changed = self._last is not None
            self._last = (key, rebuild(self.packages, self.options, today, now))
            if changed:
                # Streams read before this one came from other bundles (or another day): the
                # engine reads the run again at once, every stream from this rebuild.
                raise SourceChangedError("the OneRoster bundles changed during the run")
        return self._last[1]

    def read(
        self, stream: str, state: str | None, *, full: bool = False, known: KnownRows | None = None
    ) -> Iterator[Page]:
        """The stream's records from the current rebuild: always the whole set (``full``)."""
        if stream not in STREAMS:
            raise ValueError(f"unknown stream {stream!r}")
        snap = self.snapshot()
        records, errors = snap.records[stream], snap.errors.get(stream, [])
        if len(errors) > self.options.max_rejected:
            raise SourceDataError(
                f"{stream}: more than {self.options.max_rejected} malformed rows (max_rejected); run held"
            )
        size = self.options.page_size
        for i in range(0, max(len(records), 1), size):
            last = i + size >= len(records)
            yield Page(
                records[i : i + size],
                errors if last else [],
                full=True,
                cursor=snap.fingerprint if last else None,
                expected_total=len(records),
            )
        log.info(
            "oneroster.stream_read",
            connector=self.name,
            stream=stream,
            records=len(records),
            rejected=len(errors),
        )

    def access_sample(self, limit: int) -> Tally:
        """The access rule over the bundles' links now (connectors.base.AccessSampler)."""
        snap = self.snapshot()
        tally = Tally(self.options.policy())
        for r in snap.records["contacts"]:
            if isinstance(r, rec.StudentContact) and tally.links < limit:
                tally.add(r.access_rule, r.grants_access, r.contact_id)
        tally.set_aside = len(snap.errors.get("contacts", []))
        return tally

    def close(self) -> None:
        """Nothing is held open between reads."""


def build(name: str, options: Any, ctx: BuildContext) -> OneRosterConnector:
    return OneRosterConnector(name, options, base_dir=ctx.base_dir)


def check_config(options: Any, base_dir: Path) -> list[tuple[tuple[str | int, ...], str]]:
    """The bundles checked now: found, manifests consistent, required columns present."""
    conn = OneRosterConnector("check", options, base_dir=base_dir)
    try:
        conn.packages.settle_seconds = 0  # a bundle being written is the sync's concern, not the config's
        snap = conn.snapshot()
    except PorticoError as exc:
        return [(("path",), str(exc))]
    problems: list[tuple[tuple[str | int, ...], str]] = []
    if not snap.records["school"]:
        problems.append((("schools",), "no org of type school in orgs.csv matches (options.schools)"))
    if options.student_id != "sourcedId" and not snap.records["students"]:
        problems.append(
            (("student_id",), f"no student has {options.student_id}; every student would be set aside")
        )
    return problems


def access_policy(options: Any) -> Policy:
    return options.policy()  # type: ignore[no-any-return]


CONNECTOR_TYPE = ConnectorType("oneroster", Options, build, check_config, access_policy)
