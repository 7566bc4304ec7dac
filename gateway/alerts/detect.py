"""After each publish: which families should hear about which records, and from when.

The change set is the run's own versions (``valid_from`` = the run, read through
``ix_record_change``) against the versions it retired (``valid_to`` = the run): the cost
follows what changed, not the size of the district. A record is a candidate for the
alert kinds its new version has and its retired version had not (an absence corrected
to unauthorised is news; the same absence re-sent is not).

Recipients are the accounts that may see the child now, decided by the same query the
API answers with (:meth:`cache.read.reader.Reader.student`: the live link, on roll, the
coming-of-age rule, holds), and the sender asks again at send time. Each candidate is
queued with the instant the portal first shows its record (:func:`visible_from`, from the
one visibility rule), so nothing is announced before the family could read it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import structlog
from sqlalchemy import Connection, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from cache.keys.keystore import Keyring
from cache.read.predicates import current_in
from cache.read.reader import Principal, Reader, StudentHandle
from cache.read.visibility import rule_for, school_zone, visible_from
from cache.snapshots.encode import aad
from cache.snapshots.runs import load_state
from cache.store import Cache
from cache.tables.accounts import AccessHold, Account
from cache.tables.alerts import AlertOutbox
from cache.tables.core import core_table
from cache.tables.records import RecordRow
from cache.types import utcnow
from config.settings import AlertSettings, PorticoConfig, Visibility
from gateway.alerts import prefs as prefs_
from gateway.alerts.prefs import Prefs

log = structlog.get_logger("portico.alerts")

RECORDS = core_table(RecordRow)
OUTBOX = core_table(AlertOutbox)
ACCOUNTS = core_table(Account)
HOLDS = core_table(AccessHold)
# The record kinds alerts are made from.
WATCHED = ("attendance", "result", "grade", "behaviour", "report")

_ATTENDANCE = {
    "authorised_absence": "absence",
    "unauthorised_absence": "unauthorised_absence",
    "late": "late",
}
_RESULT = {"missing": "assignment_missing", "not_submitted": "assignment_missing", "late": "assignment_late"}


def classify(kind: str, data: dict[str, Any], points: float | None = None) -> dict[str, float | None]:
    """The alert kinds one version of a record carries (``low_score`` with its percentage)."""
    out: dict[str, float | None] = {}
    if kind == "attendance":
        found = _ATTENDANCE.get(str(data.get("category")))
        if found:
            out[found] = None
    elif kind == "result":
        found = _RESULT.get(str(data.get("status")))
        if found:
            out[found] = None
        score = data.get("score")
        if isinstance(score, int | float) and points:
            out["low_score"] = 100.0 * float(score) / points
    elif kind == "grade":
        pct = data.get("percent")
        if isinstance(pct, int | float):
            out["low_score"] = float(pct)
    elif kind == "behaviour":
        out["achievement" if data.get("polarity") == "achievement" else "behaviour"] = None
    elif kind == "report":
        out["report"] = None
    return out


def news(new: dict[str, float | None], old: dict[str, float | None] | None, threshold: float) -> list[str]:
    """The alert kinds of ``new`` that ``old`` (the retired version) had not, under ``threshold``."""

    def kinds(found: dict[str, float | None]) -> set[str]:
        return {k for k, v in found.items() if k != "low_score" or (v is not None and v < threshold)}

    return sorted(kinds(new) - (kinds(old) if old is not None else set()))


def idempotency_key(account_id: str, source: str, record_ref: str, kind: str) -> str:
    """One alert per (recipient, record, kind), whoever detects it and however often."""
    return hashlib.sha256(f"{account_id}\x1f{source}\x1f{record_ref}\x1f{kind}".encode()).hexdigest()


def due_at(mode: str, visible_at: dt.datetime, settings: AlertSettings, tz: ZoneInfo) -> dt.datetime:
    """When a queued alert goes out: at once when visible, or at the next digest time after."""
    if mode == "instant":
        return visible_at
    local = visible_at.astimezone(tz)
    if mode == "daily":
        at = dt.datetime.combine(local.date(), settings.daily_at, tzinfo=tz)
        if at < local:
            at += dt.timedelta(days=1)
        return at.astimezone(dt.UTC)
    weekday = list(_WEEKDAYS).index(settings.weekly_on)
    days = (weekday - local.weekday()) % 7
    at = dt.datetime.combine(local.date() + dt.timedelta(days=days), settings.weekly_at, tzinfo=tz)
    if at < local:
        at += dt.timedelta(days=7)
    return at.astimezone(dt.UTC)


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass
class Changed:
    kind: str
    ref: str
    student_ref: str
    stamp: dt.datetime | None
    day: dt.date | None
    found: dict[str, float | None]
    old: dict[str, float | None] | None


@dataclass
class Detected:
    changed: int = 0  # versions in the change set of the watched kinds
    candidates: int = 0  # (account, record, kind) alerts considered
    queued: int = 0  # new outbox rows (repeats are already there)


def open_row(
    keyring: Keyring, source: str, kind: str, ref: str, key_id: str, payload: bytes
) -> dict[str, Any]:
    blob = keyring.sealer(key_id).open(bytes(payload), aad(source, kind, ref, key_id))
    return orjson.loads(blob)  # type: ignore[no-any-return]


def chunks(items: list[str], n: int = 500) -> Iterable[list[str]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def change_set_sql(dialect: str) -> str:
    """The versions one run wrote, by ``ix_record_change``: named on SQLite, whose planner
    would otherwise take a wider index (``source`` alone) and read the whole source."""
    return _CHANGE_SET_SQLITE if dialect == "sqlite" else _CHANGE_SET


_CHANGE_SET = (
    "SELECT kind, ref, student_ref, parent_ref, stamp, day, key_id, payload FROM record "
    "WHERE source = :s AND valid_from = :r"
)
_CHANGE_SET_SQLITE = _CHANGE_SET.replace("FROM record ", "FROM record INDEXED BY ix_record_change ")


def change_set(conn: Connection, keyring: Keyring, source: str, run: int) -> list[Changed]:
    """The watched records run ``run`` added or changed, with their retired versions' alert kinds."""
    r = RECORDS.c
    query = text(change_set_sql(conn.dialect.name)).columns(
        r.kind, r.ref, r.student_ref, r.parent_ref, r.stamp, r.day, r.key_id, r.payload
    )
    rows = [
        row
        for row in conn.execute(query, {"s": source, "r": run})
        if row.kind in WATCHED and row.student_ref is not None
    ]
    if not rows:
        return []
    refs = sorted({row.ref for row in rows})
    old: dict[tuple[str, str], tuple[str, bytes, str | None]] = {}
    for chunk in chunks(refs):
        q = select(r.kind, r.ref, r.key_id, r.payload, r.parent_ref).where(
            r.source == source,
            r.valid_to == run,
            r.valid_to.is_not(None),
            r.kind.in_(WATCHED),
            r.ref.in_(chunk),
        )
        old.update({(o.kind, o.ref): (o.key_id, o.payload, o.parent_ref) for o in conn.execute(q)})
    # Results are visible, and scored, with their assignment: its set date and points.
    assignments: dict[str, tuple[dt.datetime | None, dt.date | None, float | None]] = {}
    arefs = sorted({row.parent_ref for row in rows if row.kind == "result" and row.parent_ref})
    for chunk in chunks(arefs):
        q = select(r.ref, r.stamp, r.day, r.key_id, r.payload).where(
            r.source == source, r.kind == "assignment", r.ref.in_(chunk), r.valid_to.is_(None)
        )
        for a in conn.execute(q):
            points = open_row(keyring, source, "assignment", a.ref, a.key_id, a.payload).get(
                "points_possible"
            )
            assignments[a.ref] = (a.stamp, a.day, float(points) if points else None)
    out = []
    for row in rows:
        stamp, day, points = row.stamp, row.day, None
        if row.kind == "result":
            stamp, day, points = assignments.get(row.parent_ref or "", (None, None, None))
        data = open_row(keyring, source, row.kind, row.ref, row.key_id, row.payload)
        found = classify(row.kind, data, points)
        if not found:  # nothing to announce: the retired version need not be opened
            continue
        before = old.get((row.kind, row.ref))
        was = None
        if before is not None:
            was = classify(
                row.kind, open_row(keyring, source, row.kind, row.ref, before[0], before[1]), points
            )
        out.append(Changed(row.kind, row.ref, row.student_ref, stamp, day, found, was))
    return out


@dataclass(frozen=True, slots=True)
class Recipient:
    """The account columns alerts need (an ORM object per account costs a millisecond)."""

    id: str
    role: str
    source: str
    subject_ref: str
    status: str


RECIPIENT_COLUMNS = (
    ACCOUNTS.c.id,
    ACCOUNTS.c.role,
    ACCOUNTS.c.source,
    ACCOUNTS.c.subject_ref,
    ACCOUNTS.c.status,
)


def recipients(
    conn: Connection, owner: str, owner_run: int, students: list[str]
) -> dict[str, list[Recipient]]:
    """Active accounts that could see each student: guardians with a granting link, the student."""
    r, a = RECORDS.c, ACCOUNTS.c
    contacts: dict[str, set[str]] = defaultdict(set)
    for chunk in chunks(students):
        q = select(r.student_ref, r.contact_ref).where(
            r.source == owner,
            r.kind == "link",
            r.student_ref.in_(chunk),
            r.access.is_(True),
            current_in(owner_run),
        )
        for s, c in conn.execute(q):
            contacts[c].add(s)
    out: dict[str, list[Recipient]] = defaultdict(list)
    subjects = sorted(set(contacts) | set(students))
    wanted = set(students)
    for chunk in chunks(subjects):
        q = select(*RECIPIENT_COLUMNS).where(
            a.source == owner, a.status == "active", a.subject_ref.in_(chunk)
        )
        for row in conn.execute(q):
            account = Recipient(*row)
            if account.role == "guardian":
                for s in contacts.get(account.subject_ref, ()):
                    out[s].append(account)
            elif account.subject_ref in wanted:
                out[account.subject_ref].append(account)
    return out


def principal(account: Account | Recipient) -> Principal:
    return Principal(account.id, account.role, account.source, account.subject_ref)


def held(conn: Connection, source: str) -> set[tuple[str, str]]:
    """(subject, ref) of every active hold on ``source``: nobody held is queued for."""
    h = HOLDS.c
    q = select(h.subject, h.ref).where(h.source == source, h.released_at.is_(None))
    return {(s, r) for s, r in conn.execute(q)}


def zones(
    conn: Connection, reader: Reader, owner: str, owner_run: int, students: list[str], district_tz: ZoneInfo
) -> dict[str, ZoneInfo]:
    """Each student's school's time zone (the district's when the school names none)."""
    r = RECORDS.c
    by_school: dict[str, ZoneInfo] = {}
    out: dict[str, ZoneInfo] = {}
    for chunk in chunks(students):
        q = select(r.ref, r.key_id, r.payload).where(
            r.source == owner, r.kind == "student", r.ref.in_(chunk), current_in(owner_run)
        )
        for ref, key_id, payload in conn.execute(q):
            data = open_row(reader.keyring, owner, "student", ref, key_id, payload)
            school = str(data.get("school_id"))
            tz = by_school.get(school)
            if tz is None:
                tz = by_school[school] = school_zone(
                    reader, StudentHandle(ref, owner, owner_run, data), district_tz
                )
            out[ref] = tz
    return out


def detect(cache: Cache, config: PorticoConfig, source: str, run: int, now: dt.datetime) -> Detected:
    """Queue the alerts run ``run`` of ``source`` gives rise to (idempotent: run it again freely).

    Recipients here are those a granting link names, less anyone held; whether each may see
    the child is decided again, by the API's own query, when the alert is sent."""
    settings = config.alerts
    out = Detected()
    if not settings.enabled:
        return out
    owner = config.connector(source).students_of or source
    district_tz = ZoneInfo(config.district.timezone)
    with cache.engine.begin() as conn:
        state = load_state(conn, source)
        owner_state = state if owner == source else load_state(conn, owner)
        # A first snapshot is the district as it stands, not news.
        if (
            state is None
            or state.previous_run is None
            or owner_state is None
            or owner_state.published_run is None
        ):
            return out
        owner_run = owner_state.published_run
        changed = change_set(conn, cache.keyring, source, run)
        out.changed = len(changed)
        if not changed:
            return out
        holds = held(conn, owner)
        by_student: dict[str, list[Changed]] = defaultdict(list)
        for c in changed:
            if ("student", c.student_ref) not in holds:
                by_student[c.student_ref].append(c)
        students = sorted(by_student)
        who = recipients(conn, owner, owner_run, students)
        choices = prefs_.load_many(conn, [acc.id for accs in who.values() for acc in accs])
        reader = Reader(conn, cache.keyring, config.attached())
        tz_of = zones(conn, reader, owner, owner_run, students, district_tz)
        rows: list[dict[str, Any]] = []
        dues: dict[tuple[str, dt.datetime], dt.datetime] = {}
        for student_ref, records in by_student.items():
            tz = tz_of.get(student_ref)
            if tz is None:  # not in the published snapshot: nobody can see them
                continue
            timed = [(c, _visible_at(config.visibility, c, tz, now)) for c in records]
            for account in who.get(student_ref, ()):
                if account.role == "guardian" and ("contact", account.subject_ref) in holds:
                    continue
                chosen = choices.get(account.id, NO_CHOICES)
                threshold = chosen.score_threshold(settings)
                for c, visible_at in timed:
                    for kind in news(c.found, c.old, threshold):
                        out.candidates += 1
                        mode = chosen.mode(settings, student_ref, kind)
                        if mode == "off":
                            continue
                        due = dues.get((mode, visible_at))
                        if due is None:
                            due = dues[(mode, visible_at)] = due_at(mode, visible_at, settings, district_tz)
                        rows.append(
                            {
                                "key": idempotency_key(account.id, source, c.ref, kind),
                                "account_id": account.id,
                                "source": source,
                                "student_ref": student_ref,
                                "kind": kind,
                                "record_kind": c.kind,
                                "record_ref": c.ref,
                                "mode": mode,
                                "visible_at": visible_at,
                                "due_at": due,
                                "status": "pending",
                                "attempts": 0,
                                "created_at": now,
                            }
                        )
        out.queued = _queue(conn, rows)
    return out


NO_CHOICES = Prefs()


def _visible_at(visibility: Visibility, c: Changed, tz: ZoneInfo, now: dt.datetime) -> dt.datetime:
    rule = rule_for(visibility, "assignment" if c.kind == "result" else c.kind)
    return visible_from(rule, c.stamp, c.day, tz, now)


def _queue(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Insert new outbox rows; a key already queued (or sent) is left as it is."""
    if not rows:
        return 0
    insert = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
    stmt = insert(OUTBOX).on_conflict_do_nothing(index_elements=["key"])
    done = conn.execute(stmt, rows).rowcount  # executemany: one statement, compiled once
    return done if done is not None and done >= 0 else len(rows)


def after_publish(
    cache: Cache, config: PorticoConfig, clock: Callable[[], dt.datetime] = utcnow
) -> Callable[[str, int], None]:
    """The hook the bootstrap registers: detect and queue after each publish."""

    def run(source: str, run_id: int) -> None:
        found = detect(cache, config, source, run_id, clock())
        log.info("alerts.detected", source=source, run=run_id, changed=found.changed, queued=found.queued)

    return run
