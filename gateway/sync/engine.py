"""Run one connector into the cache: lock, stage every stream, guard, publish or hold.

Error handling is a table (:data:`OUTCOMES`), not scattered ifs: each error class maps
to the run's status and whether the failure counts towards the circuit breaker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import structlog
from sqlalchemy import Engine

from cache.keys.keystore import Keyring
from cache.locks import source_lock
from cache.snapshots.changes import ChangeSet
from cache.snapshots.encode import Encoder, adult_cutoff
from cache.snapshots.guards import guard_reasons
from cache.snapshots.runs import create_run, get_run, load_state, runs_with_status, save_state, update_run
from cache.snapshots.staging import Staging, discard_run, publish_run
from cache.types import utcnow
from config.errors import (
    PorticoError,
    RecordError,
    SourceAuthError,
    SourceChangedError,
    SourceDataError,
    SourceUnavailableError,
)
from config.settings import ConnectorSettings, Guards, PorticoConfig
from connectors.base import Connector, Page
from gateway.sync import breaker
from gateway.sync.allocator import fix_mmap_threshold
from gateway.sync.fullread import IdSet, confirm_full_read

log = structlog.get_logger("portico.sync")

# A run that finds the source changing under a full read is retried this many times at
# once; if it still changes, the run fails and the next scheduled run tries again.
CHANGE_RETRIES = 2

# error class -> (run status, counts towards the breaker)
OUTCOMES: dict[type[BaseException], tuple[str, bool]] = {
    SourceChangedError: ("failed", False),  # retried at once (CHANGE_RETRIES), then next time
    SourceUnavailableError: ("failed", True),
    SourceAuthError: ("failed", True),
    SourceDataError: ("held", False),
    PorticoError: ("failed", True),
}


# Called with (source, run id) after a snapshot is published: registered by the
# bootstrap (gateway.bootstrap.Application.after_publish), never hard-coded here.
Hook = Callable[[str, int], None]


@runtime_checkable
class ChangeHook(Protocol):
    """A hook that is also handed the run's change set, collected while it was staged
    (cache.snapshots.changes): ``None`` when the set overflowed (read the run instead)."""

    def watch(self) -> ChangeSet: ...

    def __call__(self, source: str, run: int, changes: ChangeSet | None = None) -> None: ...


@dataclass
class Progress:
    """Callbacks for a terminal or a log; all optional."""

    on_page: Callable[[str, Page, int, int], None] | None = None  # stream, page, records, pages
    on_stream_done: Callable[[str, int, float], None] | None = None

    @classmethod
    def logged(cls, source: str) -> Progress:
        """Progress as one log line per finished stream (scheduled runs)."""

        def on_done(stream: str, records: int, seconds: float) -> None:
            log.info(
                "sync.stream",
                source=source,
                stream=stream,
                records=records,
                seconds=round(seconds, 2),
                rate=round(records / max(seconds, 1e-6)),
            )

        return cls(on_stream_done=on_done)


@dataclass
class SyncOutcome:
    source: str
    run_id: int | None
    status: str  # published | held | failed | skipped
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    hold_reasons: list[str] = field(default_factory=list)
    error_class: str | None = None
    error: str | None = None
    retries: int = 0
    seconds: float = 0.0
    records: int = 0
    breaker: str = "closed"
    # Seconds per stage (see STAGES), kept on the run for /metrics.
    stages: dict[str, float] = field(default_factory=dict)


# A run's stages: reading the source (the connector fetches and normalises), writing the
# encrypted rows to the cache, the guards, publishing, and the after-publish hooks.
STAGES = ("fetch", "stage", "guards", "publish", "hooks")


def _classify(exc: BaseException) -> tuple[str, bool]:
    for cls in type(exc).__mro__:
        if cls in OUTCOMES:
            return OUTCOMES[cls]
    return ("failed", True)


def recover(engine: Engine, source: str) -> None:
    """Discard what crashed or superseded runs staged. Call only while holding the lock."""
    with engine.begin() as conn:
        for run_id in runs_with_status(conn, source, ("running",)):
            discard_run(conn, source, run_id)
            update_run(
                conn,
                run_id,
                status="failed",
                error_class="Interrupted",
                error="the process stopped before the run finished",
                finished_at=utcnow(),
            )
        for run_id in runs_with_status(conn, source, ("held",)):
            discard_run(conn, source, run_id)
            update_run(conn, run_id, status="superseded", finished_at=utcnow())


def record_stages(engine: Engine, run_id: int, stages: dict[str, float]) -> None:
    """Keep a run's seconds per stage on its row (``/metrics`` reads them from any process)."""
    with engine.begin() as conn:
        update_run(conn, run_id, stages={k: round(v, 6) for k, v in stages.items()})


class SyncEngine:
    def __init__(
        self,
        engine: Engine,
        keyring: Keyring,
        config: PorticoConfig,
        connector_settings: ConnectorSettings,
        on_published: list[Hook] | None = None,
    ):
        self.engine = engine
        self.on_published = list(on_published or [])
        self.keyring = keyring
        self.config = config
        self.cs = connector_settings
        self.source = connector_settings.name
        self._changes: dict[int, ChangeSet] = {}  # per ChangeHook (by id): the last attempt's

    def guards(self) -> Guards:
        """The source's guards; a source attached to another's students guards no people kinds
        (it never publishes any: an empty one is not a reason to hold it)."""
        g = self.cs.guards
        if self.cs.students_of is None:
            return g
        return g.model_copy(update={"guarded_kinds": [k for k in g.guarded_kinds if k not in PEOPLE]})

    def encoder(self) -> Encoder:
        a = self.config.access
        return Encoder(
            self.source,
            self.keyring.index,
            self.config.district.timezone,
            adult_cutoff(a.adult_parent_access, a.adult_age),
            student_source=self.cs.students_of,
        )

    def run(
        self, connector: Connector, *, full: bool = False, progress: Progress | None = None
    ) -> SyncOutcome:
        started = time.monotonic()
        fix_mmap_threshold()  # pages of megabytes come and go: keep them off the heap
        with source_lock(self.engine, self.source) as got:
            if not got:
                return SyncOutcome(
                    self.source, None, "skipped", error="another sync of this source is running"
                )
            recover(self.engine, self.source)
            for attempt in range(CHANGE_RETRIES + 1):
                outcome = self._run_locked(connector, full, progress or Progress())
                if outcome.error_class != SourceChangedError.__name__ or attempt == CHANGE_RETRIES:
                    break
                log.info("sync.retry", source=self.source, run=outcome.run_id, reason="source changed")
        if outcome.status == "published" and outcome.run_id is not None:
            t0 = time.perf_counter()
            for hook in self.on_published:
                if isinstance(hook, ChangeHook):
                    changes = self._changes.get(id(hook))
                    hook(
                        self.source, outcome.run_id, None if changes is None or changes.overflow else changes
                    )
                else:
                    hook(self.source, outcome.run_id)
            self._changes = {}
            outcome.stages["hooks"] = time.perf_counter() - t0
        if outcome.run_id is not None and outcome.stages:
            record_stages(self.engine, outcome.run_id, outcome.stages)
        outcome.seconds = time.monotonic() - started
        log.info(
            "sync.finished",
            source=self.source,
            run=outcome.run_id,
            status=outcome.status,
            records=outcome.records,
            seconds=round(outcome.seconds, 2),
            error_class=outcome.error_class,
        )
        return outcome

    def _run_locked(self, connector: Connector, full: bool, progress: Progress) -> SyncOutcome:
        with self.engine.begin() as conn:
            state = load_state(conn, self.source)
            if (
                state is None
                or state.published_run is None
                or state.last_full_at is None
                or (self.cs.schedule and utcnow() - state.last_full_at >= self.cs.schedule.full_every)
            ):
                full = True
            run_id = create_run(conn, self.source, full)
            save_state(conn, self.source, last_attempt_at=utcnow())
        published = state.published_run if state else None
        cursors: dict[str, str] = dict(state.cursors) if state and state.cursors and not full else {}
        as_of = utcnow()
        self._changes = {id(h): h.watch() for h in self.on_published if isinstance(h, ChangeHook)}
        staging = Staging(
            self.engine, self.keyring, self.encoder(), run_id, published, list(self._changes.values())
        )
        outcome = SyncOutcome(self.source, run_id, "running")
        try:
            self._read_all(connector, staging, cursors, full, progress, outcome)
            t0 = time.perf_counter()
            held = guard_reasons(self.guards(), staging, published, full)
            outcome.stages["guards"] = time.perf_counter() - t0
            counts = {k: c.as_dict() for k, c in staging.result.counts.items()}
            outcome.counts = counts
            t0 = time.perf_counter()
            staging.conn.commit()
            outcome.stages["stage"] = outcome.stages.get("stage", 0.0) + time.perf_counter() - t0
            t0 = time.perf_counter()
            with self.engine.begin() as conn:
                update_run(
                    conn,
                    run_id,
                    counts=counts,
                    rejected=staging.result.rejected,
                    cursors=cursors,
                    retries=outcome.retries,
                )
                if held:
                    update_run(conn, run_id, status="held", hold_reasons=held, finished_at=utcnow())
                    breaker.record_success(conn, self.source)
                    outcome.status, outcome.hold_reasons = "held", held
                else:
                    publish_run(conn, self.source, run_id, cursors, as_of, full)
                    outcome.status = "published"
            outcome.stages["publish"] = time.perf_counter() - t0
        except Exception as exc:
            staging.conn.rollback()
            status, counts_failure = _classify(exc)
            outcome.status = "held" if status == "held" else "failed"
            outcome.error_class = type(exc).__name__
            outcome.error = str(exc) if isinstance(exc, PorticoError) else "unexpected error (see logs)"
            if not isinstance(exc, PorticoError):
                log.exception("sync.crashed", source=self.source, run=run_id)
            with self.engine.begin() as conn:
                if outcome.status == "failed":
                    discard_run(conn, self.source, run_id)
                update_run(
                    conn,
                    run_id,
                    status=outcome.status,
                    error_class=outcome.error_class,
                    error=outcome.error,
                    finished_at=utcnow(),
                    retries=outcome.retries,
                    counts={k: c.as_dict() for k, c in staging.result.counts.items()},
                    hold_reasons=[outcome.error] if outcome.status == "held" else [],
                )
                if counts_failure:
                    view = breaker.record_failure(conn, self.source, self.cs.breaker)
                    outcome.breaker = view.state
                else:
                    breaker.record_success(conn, self.source)
            outcome.hold_reasons = [outcome.error] if outcome.status == "held" else []
        finally:
            staging.close()
        return outcome

    def _read_all(
        self,
        connector: Connector,
        staging: Staging,
        cursors: dict[str, str],
        full: bool,
        progress: Progress,
        outcome: SyncOutcome,
    ) -> None:
        began, staged = time.perf_counter(), 0.0
        for info in connector.streams():
            t0 = time.monotonic()
            records = 0
            stream_full = True
            started = False
            new_cursor = None
            seen = IdSet()
            added_before = self._added(staging, info.kinds)
            state = None if full else cursors.get(info.name)
            if info.row_keys:  # read whole, skipping the rows whose versions it already holds
                known = staging.known_rows(info.kinds)
                pages = connector.read(info.name, state, full=full, known=known)
            else:
                pages = connector.read(info.name, state, full=full)
            for n_pages, page in enumerate(pages, start=1):
                s0 = time.perf_counter()
                if not started:
                    staging.start_stream(info.kinds, page.full)
                    started = True
                stream_full = stream_full and page.full
                if self.cs.students_of is not None:
                    _people_set_aside(page, staging, self.cs.students_of)
                staging.write(page.records, page.row_keys)
                if not info.consistent:  # only a second read of an inconsistent stream needs the ids
                    seen.add_page(page)
                for err in page.rejected:
                    staging.reject(err, info.kinds[0] if len(info.kinds) == 1 else "unknown")
                staged += time.perf_counter() - s0
                records += len(page.records) + page.known
                outcome.retries += page.retries
                if page.cursor is not None:
                    new_cursor = page.cursor
                if progress.on_page:
                    progress.on_page(info.name, page, records, n_pages)
            if started and stream_full:
                # Ids came or went: offset paging may have slipped if that happened mid-read.
                came_or_went = self._added(staging, info.kinds) > added_before or staging.pending_deletes(
                    info.kinds
                )
                if came_or_went and not info.consistent:
                    outcome.retries += confirm_full_read(connector, info.name, seen)
                s0 = time.perf_counter()
                staging.finish_full_stream(info.kinds)
                staged += time.perf_counter() - s0
            elif not started and (full or info.name not in cursors):
                # A full read that produced no page at all: an empty source for these kinds.
                staging.start_stream(info.kinds, True)
                staging.finish_full_stream(info.kinds)
            if new_cursor is not None:
                cursors[info.name] = new_cursor
            outcome.records += records
            if progress.on_stream_done:
                progress.on_stream_done(info.name, records, time.monotonic() - t0)
            outcome.stages["stage"] = staged
            outcome.stages["fetch"] = time.perf_counter() - began - staged

    @staticmethod
    def _added(staging: Staging, kinds: tuple[str, ...]) -> int:
        counts = staging.result.counts
        return sum(counts[k].added for k in kinds if k in counts)


PEOPLE = frozenset({"student", "contact", "link"})


def _people_set_aside(page: Page, staging: Staging, owner: str) -> None:
    """A source attached to another's students publishes no people of its own: who a
    student is and who may see them is decided by ``owner`` alone."""
    if not any(r.kind in PEOPLE for r in page.records):
        return
    keep = [i for i, r in enumerate(page.records) if r.kind not in PEOPLE]
    for r in page.records:
        if r.kind in PEOPLE:
            reason = (
                f"this source's records belong to {owner}'s students (students_of): it publishes no {r.kind}s"
            )
            staging.reject(RecordError(reason, where=f"{r.kind} record"), r.kind)
    page.records = [page.records[i] for i in keep]
    if page.row_keys:
        page.row_keys = [page.row_keys[i] for i in keep]


def decide(engine: Engine, source: str, run_id: int, *, approve: bool, by: str) -> str:
    """Publish (approve) or discard a held run; returns the run's new status."""
    with source_lock(engine, source) as got:
        if not got:
            raise PorticoError("a sync of this source is running; try again when it has finished")
        with engine.begin() as conn:
            run = get_run(conn, run_id)
            if run is None or run.source != source:
                raise PorticoError(f"run {run_id} does not exist for source {source}")
            if run.status != "held":
                raise PorticoError(f"run {run_id} is {run.status}, not held")
            if approve:
                publish_run(conn, source, run_id, dict(run.cursors or {}), run.started_at, run.full)
                update_run(conn, run_id, decided_by=by)
                return "published"
            discard_run(conn, source, run_id)
            update_run(conn, run_id, status="discarded", decided_by=by, finished_at=utcnow())
            return "discarded"
