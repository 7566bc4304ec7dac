"""Authorised reads beyond one kind of record: timetables, assignments with results, notices.

Every function starts from a :class:`~cache.read.reader.StudentHandle`, which only
:meth:`Reader.student` hands out after the relationship check, so nothing here can
reach a student the caller may not see. Notices start from the caller's visible
students: their schools, year groups and current classes are the audiences.
"""

from __future__ import annotations

import bisect
import datetime as dt
import weakref
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import orjson

from cache.memo import remember
from cache.read.predicates import CURRENT
from cache.read.reader import FirstRead, Reader, StudentHandle, newest_first
from cache.types import binder, iso_day

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from cache.keys.keystore import Keyring
    from cache.read.visibility import Window

Row = tuple[str, dict[str, Any]]
_T = TypeVar("_T")


# Entries of each memo of decrypted non-personal records below (then emptied: cache.memo).
MEMO_BOUND = 50_000


class _Remembered:
    """What is read once per published snapshot, for one cache: the same source name and
    run number in another cache (another district in the same process, a test's next
    database) is another snapshot, so each cache (its keyring) has its own."""

    def __init__(self) -> None:
        # Decrypted shared records (schools, sections: no personal data) by
        # (source, kind, ref, published run). A snapshot never changes once published, so
        # an entry never goes stale. Never mutated by callers.
        self.shared: dict[tuple[str, str, str, int], dict[str, Any]] = {}
        # Decrypted assignments and notices, the same way (open_shared). Kept apart from the
        # schools and sections: a big district's snapshot has more of them than the bound,
        # and emptying their memo must not empty the few records every request reads.
        self.opened: dict[tuple[str, str, str, int], dict[str, Any]] = {}
        # Each class's assignments (the class's, not a student's: no personal data) by
        # (source, section ref, published run): ref, day and stamp as the driver returns
        # them, decrypted.
        self.class_assignments: dict[tuple[str, str, int], list[tuple[str, Any, Any, dict[str, Any]]]] = {}
        # Each source's notices (district, school, year-group and class announcements: no
        # personal data) by (source, published run): their plaintext columns, as the
        # driver returns them.
        self.notices: dict[tuple[str, int], dict[str, list[tuple[str, Any, Any, str, bytes]]]] = {}
        # Each school's time zone by (source, school id, published run, district zone):
        # every data request asks for its student's school's zone (cache.read.visibility).
        self.zones: dict[tuple[str, str, int, ZoneInfo], ZoneInfo] = {}


_BY_CACHE: weakref.WeakKeyDictionary[Keyring, _Remembered] = weakref.WeakKeyDictionary()


def _remembered(reader: Reader) -> _Remembered:
    found = _BY_CACHE.get(reader.keyring)
    if found is None:
        found = _BY_CACHE[reader.keyring] = _Remembered()
    return found


def school_zones(reader: Reader) -> dict[tuple[str, str, int, ZoneInfo], ZoneInfo]:
    """The schools' time zones remembered per snapshot for this reader's cache."""
    return _remembered(reader).zones


In = tuple[str, dict[str, Any], dict[str, list[Any]]]  # a read's statement, values and lists


def _lists(sql: str, params: dict[str, Any], lists: Iterable[str]) -> In:
    """``IN :name`` for each list in ``params``, one bound value per item (an empty list
    matches nothing): the arguments of ``Reader.query_in`` and ``Reader.aquery_in``."""
    params = dict(params)
    return sql, params, {name: params.pop(name) for name in lists}


def _in(reader: Reader, sql: str, params: dict[str, Any], lists: Iterable[str]) -> list[Any]:
    """The rows of ``sql`` with its lists (:func:`_lists`)."""
    return reader.query_in(*_lists(sql, params, lists))


def _open_all(reader: Reader, source: str, kind: str, rows: list[Any]) -> list[Row]:
    return [(ref, reader.open(source, kind, ref, key_id, payload)) for ref, key_id, payload, *_ in rows]


_ONE = (
    "SELECT ref, key_id, payload FROM record r WHERE r.source = :src AND r.kind = :k AND r.ref = :ref "
    f"AND r.student_ref = :sref AND {CURRENT.format(t='r')}"
)


def _one_params(student: StudentHandle, source: str, run: int, kind: str, ref: str) -> dict[str, Any]:
    return {"src": source, "k": kind, "ref": ref, "sref": student.ref, "p": run}


def one(reader: Reader, student: StudentHandle, kind: str, ref: str) -> dict[str, Any] | None:
    """One of the student's records by its public id, or None (not theirs, or not there);
    looked for in the student's own source and in the sources attached to its students."""
    for source, run in student.sources():
        rows = reader.query(_ONE, _one_params(student, source, run, kind, ref))
        if rows:
            return _open_all(reader, source, kind, rows)[0][1]
    return None


async def aone(reader: Reader, student: StudentHandle, kind: str, ref: str) -> dict[str, Any] | None:
    """:func:`one`, each source's read awaited (``Reader.aquery``)."""
    for source, run in student.sources():
        rows = await reader.aquery(_ONE, _one_params(student, source, run, kind, ref))
        if rows:
            return _open_all(reader, source, kind, rows)[0][1]
    return None


Dates = tuple[dt.date | None, dt.date | None]  # first and last day; None: open-ended


def enrollments(
    reader: Reader, student: StudentHandle, start: dt.date | None = None, end: dt.date | None = None
) -> dict[str, tuple[Dates, ...]]:
    """The student's class memberships overlapping ``start..end``: section ref → each
    enrolment's first and last days (a student who left a class and joined it again has
    two)."""
    out: dict[str, tuple[Dates, ...]] = {}
    s = None if start is None else iso_day(start)
    e = None if end is None else iso_day(end)
    for section_ref, active_from, active_to, dates in _enrolled(reader, student):
        if (e is None or active_from is None or active_from <= e) and (
            s is None or active_to is None or active_to >= s
        ):
            out[section_ref] = (*out.get(section_ref, ()), dates)
    return out


def _within(day: dt.date, periods: tuple[Dates, ...]) -> bool:
    """Whether ``day`` falls in one of a class's enrolment ``periods``."""
    return any((lo is None or day >= lo) and (hi is None or day <= hi) for lo, hi in periods)


# An enrolment's section and dates are its index columns (the payload's section and
# start and end dates, cache.snapshots.encode): nothing a read uses is in its payload,
# so it is not fetched or decrypted.
_ENROLLED = (
    "SELECT parent_ref, active_from, active_to FROM record r WHERE r.source = :src "
    f"AND r.kind = 'enrollment' AND r.student_ref = :sref AND {CURRENT.format(t='r')}"
)


def _student_params(student: StudentHandle) -> dict[str, Any]:
    return {"src": student.source, "sref": student.ref, "p": student.published_run}


def _enrolled_key(student: StudentHandle) -> tuple[str, str, str, int]:
    return ("enrollment", student.source, student.ref, student.published_run)


async def aenrolled(reader: Reader, student: StudentHandle) -> None:
    """The student's enrolments read now, awaited (``Reader.aquery``), and kept for this
    request: :func:`enrollments` then reads nothing (a request on the serving loop)."""
    if _enrolled_key(student) not in reader.memo:
        _enrolled(reader, student, await reader.aquery(_ENROLLED, _student_params(student)))


def _enrolled(
    reader: Reader, student: StudentHandle, rows: list[Any] | None = None
) -> list[tuple[str, str | None, str | None, Dates]]:
    """Every current enrolment of the student with its dates (ISO text, and dates): read
    once per request (a page asks for the classes of several days and its notices);
    ``rows``: the read's rows, if already read (:func:`atimetable`)."""
    key = _enrolled_key(student)
    found: list[tuple[str, str | None, str | None, Dates]] | None = reader.memo.get(key)
    if found is None:
        if rows is None:
            rows = reader.query(_ENROLLED, _student_params(student))
        found = reader.memo[key] = []
        for section_ref, active_from, active_to in rows:
            lo, hi = _iso(active_from), _iso(active_to)
            dates = (dt.date.fromisoformat(lo) if lo else None, dt.date.fromisoformat(hi) if hi else None)
            found.append((section_ref, lo, hi, dates))
    return found


def _iso(day: Any) -> str | None:
    """A date column as ISO text whatever the driver returns (SQLite: text; PostgreSQL: a date)."""
    if day is None:
        return None
    return day if isinstance(day, str) else day.isoformat()


def open_shared(
    reader: Reader, source: str, kind: str, ref: str, key_id: str, payload: bytes, run: int
) -> dict[str, Any]:
    """A non-personal record (a class's assignment, a notice) decrypted once per snapshot:
    ``ref`` is the version current in ``run``, and a snapshot never changes once published."""
    key = (source, kind, ref, run)
    opened = _remembered(reader).opened
    hit = opened.get(key)
    if hit is None:
        hit = remember(opened, key, reader.open(source, kind, ref, key_id, payload), MEMO_BOUND)
    return hit


_SHARED = (
    "SELECT ref, key_id, payload FROM record r WHERE r.source = :src AND r.kind = :k "  # noqa: S608
    f"AND r.ref IN :refs AND {CURRENT.format(t='r')}"
)


def shared_many(
    reader: Reader, source: str, kind: str, refs: Iterable[str], published: int
) -> dict[str, Any]:
    """Non-personal records (sections, schools) by ref, in one query, remembered per snapshot."""
    found, wanted = _shared_wanted(reader, source, kind, refs, published)
    if not wanted:
        return found
    rows = reader.query_in(*_shared_read(source, kind, wanted, published))
    return _shared_opened(reader, source, kind, published, found, wanted, rows)


async def ashared_many(
    reader: Reader, source: str, kind: str, refs: Iterable[str], published: int
) -> dict[str, Any]:
    """:func:`shared_many`, a snapshot's first read of the records awaited (``Reader.aquery_in``)
    with their data key (``Reader.ahold``): on the serving loop, no worker thread needed."""
    found, wanted = _shared_wanted(reader, source, kind, refs, published)
    if not wanted:
        return found
    rows = await reader.aquery_in(*_shared_read(source, kind, wanted, published))
    await reader.ahold(row[1] for row in rows)
    return _shared_opened(reader, source, kind, published, found, wanted, rows)


# A shared record asked for and not in the snapshot (a grade's class deleted in the SIS,
# say), remembered as such: not read again for every request that names it.
_ABSENT: dict[str, Any] = {}


def _shared_wanted(
    reader: Reader, source: str, kind: str, refs: Iterable[str], published: int
) -> tuple[dict[str, Any], list[str]]:
    """The records remembered already, and the refs still to read."""
    found: dict[str, Any] = {}
    wanted = []
    shared = _remembered(reader).shared
    for ref in sorted(set(refs)):
        hit = shared.get((source, kind, ref, published))
        if hit is None:
            wanted.append(ref)
        elif hit is not _ABSENT:
            found[ref] = hit
    return found, wanted


def _shared_read(source: str, kind: str, wanted: list[str], published: int) -> In:
    return _lists(_SHARED, {"src": source, "k": kind, "refs": wanted, "p": published}, ["refs"])


def _shared_opened(
    reader: Reader,
    source: str,
    kind: str,
    published: int,
    found: dict[str, Any],
    wanted: list[str],
    rows: list[Any],
) -> dict[str, Any]:
    """``found`` with the records read, each remembered; those of ``wanted`` not in the
    snapshot remembered as absent (:data:`_ABSENT`)."""
    for ref, rec in _open_all(reader, source, kind, rows):
        found[ref] = _remember(reader, (source, kind, ref, published), rec)
    for ref in wanted:
        if ref not in found:
            _remember(reader, (source, kind, ref, published), _ABSENT)
    return found


def _remember(reader: Reader, key: tuple[str, str, str, int], record: dict[str, Any]) -> dict[str, Any]:
    # Schools and sections are few per snapshot (a few thousand classes in a district of
    # 50,000 students): the bound is far above them.
    return remember(_remembered(reader).shared, key, record, MEMO_BOUND)


class Lesson(NamedTuple):
    day: dt.date
    entry_ref: str
    section_ref: str
    entry: dict[str, Any]


def _week_letter(day: dt.date, year_start: dt.date | None) -> str:
    # Fortnightly timetables: week A is the week the school year starts in.
    anchor = year_start or dt.date(day.year, 1, 1)
    weeks = (day - (anchor - dt.timedelta(days=anchor.weekday()))).days // 7
    return "A" if weeks % 2 == 0 else "B"


Entry = tuple[str, dict[str, Any], tuple[dt.date | None, dt.date | None]]  # ref, entry, its own dates
Week = dict[int, list[Entry]]  # a class's entries by ISO weekday
# Each class's timetable (its entries decrypted, their dates parsed, grouped by weekday)
# by (source, section ref, published run): shared by the class's students and no
# personal data, like sections.
_CLASS_TIMETABLES: dict[tuple[str, str, int], Week] = {}

_ENTRIES = (
    "SELECT ref, key_id, payload, parent_ref FROM record r WHERE r.source = :src AND r.kind = 'timetable' "
    f"AND r.parent_ref IN :secs AND r.parent_ref IS NOT NULL AND {CURRENT.format(t='r')}"
)


def _held(
    memo: dict[tuple[str, str, int], _T], source: str, sections: Iterable[str], run: int
) -> tuple[dict[str, _T], list[str]]:
    """The values ``memo`` holds for these classes in this snapshot, by section, and the
    sections it holds none for, in the order of ``sections``. Each value is read from
    ``memo`` once, here: making room for the missing classes (or another request doing
    so) clears ``memo``, the values already taken included."""
    held: dict[str, _T] = {}
    missing = []
    for sec in sections:
        hit = memo.get((source, sec, run))
        if hit is None:
            missing.append(sec)
        else:
            held[sec] = hit
    return held, missing


def _entries(reader: Reader, source: str, rows: list[Any]) -> dict[str, Week]:
    found: dict[str, Week] = {}
    for ref, k, p, sec in rows:
        e = reader.open(source, "timetable", ref, k, p)
        found.setdefault(sec, {}).setdefault(e["day"], []).append(
            (ref, e, _bounds(e, "start_date", "end_date"))
        )
    return found


def class_timetables(reader: Reader, student: StudentHandle, sections: Iterable[str]) -> dict[str, Week]:
    """The class entries of each section by weekday (a student's own entries are not among them)."""
    out, missing = _held(_CLASS_TIMETABLES, student.source, sections, student.published_run)
    if missing:
        rows = reader.query_in(*_class_entries(student, missing))
        _classes_found(reader, student, missing, rows, out)
    return out


async def aclass_timetables(
    reader: Reader, student: StudentHandle, sections: Iterable[str]
) -> dict[str, Week]:
    """:func:`class_timetables`, the classes not remembered yet in this snapshot read
    awaited with their data key (``Reader.aquery_in``, ``Reader.ahold``)."""
    out, missing = _held(_CLASS_TIMETABLES, student.source, sections, student.published_run)
    if missing:
        rows = await reader.aquery_in(*_class_entries(student, missing))
        await reader.ahold(row[1] for row in rows)
        _classes_found(reader, student, missing, rows, out)
    return out


def _class_entries(student: StudentHandle, sections: list[str]) -> In:
    params = {"src": student.source, "secs": sorted(sections), "p": student.published_run}
    return _lists(_ENTRIES + " AND r.student_ref IS NULL", params, ["secs"])


def _classes_found(
    reader: Reader, student: StudentHandle, sections: list[str], rows: list[Any], out: dict[str, Week]
) -> None:
    """The classes' entries (their rows of :func:`_class_entries`) remembered, and put in ``out``."""
    source, run = student.source, student.published_run
    found = _entries(reader, source, rows)
    for sec in sections:
        out[sec] = remember(_CLASS_TIMETABLES, (source, sec, run), found.get(sec, {}), 20_000)


def timetable(
    reader: Reader, student: StudentHandle, start: dt.date, end: dt.date, year_start: dt.date | None
) -> list[Lesson]:
    """The student's lessons on each date of ``start..end``, in time order."""
    return [lesson for day in timetable_days(reader, student, start, end, year_start) for lesson in day]


async def atimetable(
    reader: Reader, student: StudentHandle, start: dt.date, end: dt.date, year_start: dt.date | None
) -> list[Lesson]:
    """:func:`timetable`, its reads awaited: the student's own rows, enrolments and entries
    in one statement (``Reader.aquery``), and the timetables of classes this snapshot has
    not read yet (:func:`aclass_timetables`)."""
    own = _own_entries(reader, student, await reader.aquery(_ENROLLED_AND_OWN, _student_params(student)))
    sections = enrollments(reader, student, start, end)
    if not sections:
        return []  # as timetable_days: no classes, nothing more to read
    entries = await aclass_timetables(reader, student, sections)
    days = timetable_days(reader, student, start, end, year_start, own, entries)
    return [lesson for day in days for lesson in day]


# The timetable's read of the student's own rows, in one statement: the enrolments (as
# _ENROLLED reads them) and the student's own lessons in its classes (most students have
# none), by kind, each kind one seek in ix_record_student.
_ENROLLED_AND_OWN_COLUMNS = ("kind", "ref", "key_id", "payload", "parent_ref", "active_from", "active_to")
_ENROLLED_AND_OWN = (
    f"SELECT {', '.join(_ENROLLED_AND_OWN_COLUMNS)} FROM record r "
    "WHERE r.student_ref = :sref AND r.kind IN ('enrollment', 'timetable') AND r.source = :src "
    f"AND (r.kind = 'enrollment' OR r.parent_ref IS NOT NULL) AND {CURRENT.format(t='r')}"
)


def _own_entries(reader: Reader, student: StudentHandle, rows: list[Any]) -> list[Any]:
    """The student's own timetable entries among the rows of ``_ENROLLED_AND_OWN`` (each
    ref, key_id, payload, section), its enrolments kept for this request (:func:`_enrolled`)."""
    if _enrolled_key(student) not in reader.memo:  # else read already for this request
        _enrolled(
            reader, student, [(sec, lo, hi) for kind, _, _, _, sec, lo, hi in rows if kind == "enrollment"]
        )
    return [(ref, k, p, sec) for kind, ref, k, p, sec, _, _ in rows if kind == "timetable"]


# That read as a route's first (read with the session: ``FirstRead``): it binds only the
# student's own values, so it is the same whatever the range asked for.
TIMETABLE_FIRST = FirstRead(_ENROLLED_AND_OWN, {}, _ENROLLED_AND_OWN_COLUMNS)


def timetable_days(
    reader: Reader,
    student: StudentHandle,
    start: dt.date,
    end: dt.date,
    year_start: dt.date | None,
    own_rows: list[Any] | None = None,
    class_entries: dict[str, Week] | None = None,
) -> Iterator[list[Lesson]]:
    """:func:`timetable` one date at a time, from ``start``: each date's lessons in time
    order (a reader that needs only the next few lessons stops early). ``own_rows``: the
    student's own entries (:func:`_own_entries`), and ``class_entries`` the classes'
    timetables (:func:`class_timetables`), if already read."""
    if own_rows is None:  # read with the enrolments, in one statement
        own_rows = _own_entries(reader, student, reader.query(_ENROLLED_AND_OWN, _student_params(student)))
    sections = enrollments(reader, student, start, end)
    if not sections:
        return
    entries = (
        dict(class_entries) if class_entries is not None else class_timetables(reader, student, sections)
    )
    # The student's own lessons (personal: decrypted every time) in the same classes,
    # beside (never into) the class's remembered entries: kept for these classes before
    # any is decrypted.
    own = [row for row in own_rows if row[3] in sections]
    for sec, mine in _entries(reader, student.source, own).items():
        shared = entries[sec]
        entries[sec] = {d: [*shared.get(d, ()), *mine.get(d, ())] for d in {*shared, *mine}}
    day = start
    while day <= end:
        week, weekday = _week_letter(day, year_start), day.isoweekday()
        lessons = []
        for sec, periods in sections.items():
            joined, left = periods[0]  # most classes have one enrolment: its check inline
            if ((joined and day < joined) or (left and day > left)) and not _within(day, periods[1:]):
                continue
            for ref, e, (lo, hi) in entries[sec].get(weekday, ()):
                if (lo and day < lo) or (hi and day > hi) or e["week_pattern"] not in ("every", week):
                    continue
                lessons.append(Lesson(day, ref, sec, e))
        lessons.sort(key=lambda x: (x.entry["start_time"], x.entry_ref))
        yield lessons
        day += dt.timedelta(days=1)


def _bounds(rec: dict[str, Any], lo: str, hi: str) -> tuple[dt.date | None, dt.date | None]:
    a, b = rec.get(lo), rec.get(hi)
    return (dt.date.fromisoformat(a) if a else None, dt.date.fromisoformat(b) if b else None)


def assignments(
    reader: Reader,
    student: StudentHandle,
    start: dt.date,
    end: dt.date,
    *,
    section_ref: str | None = None,
    window: Window | None = None,
    after: tuple[str, str] | None = None,
    limit: int = 1000,
) -> list[tuple[str, str, dict[str, Any], dict[str, Any] | None]]:
    """Assignments of the student's classes due in ``start..end`` (latest first) with their result."""
    read = _assignments_read(reader, student, start, end, section_ref, window, after, limit)
    if read is None:
        return []
    found = _assignments_found(reader, student, reader.query_in(*read))
    return _with_results(found, _results(reader, student, [f[0] for f in found]))


async def aassignments(
    reader: Reader,
    student: StudentHandle,
    start: dt.date,
    end: dt.date,
    *,
    section_ref: str | None = None,
    window: Window | None = None,
    after: tuple[str, str] | None = None,
    limit: int = 1000,
) -> list[tuple[str, str, dict[str, Any], dict[str, Any] | None]]:
    """:func:`assignments`, its three reads awaited (``Reader.aquery``): the student's
    enrolments, the classes' assignments (with their data key: ``Reader.ahold``), the
    student's results."""
    await aenrolled(reader, student)
    read = _assignments_read(reader, student, start, end, section_ref, window, after, limit)
    if read is None:
        return []
    rows = await reader.aquery_in(*read)
    await reader.ahold(row[1] for row in rows)  # the classes' key, if not in memory yet
    found = _assignments_found(reader, student, rows)
    return _with_results(found, await _aresults(reader, student, [f[0] for f in found]))


def _assignments_read(
    reader: Reader,
    student: StudentHandle,
    start: dt.date,
    end: dt.date,
    section_ref: str | None,
    window: Window | None,
    after: tuple[str, str] | None,
    limit: int,
) -> In | None:
    """The read of :func:`assignments` (None: the student is in none of the classes asked for)."""
    sections = enrollments(reader, student)
    if section_ref is not None:
        sections = {k: v for k, v in sections.items() if k == section_ref}
    if not sections:
        return None
    sql = (
        f"SELECT ref, key_id, payload, parent_ref FROM record r WHERE r.source = :src AND r.kind = 'assignment' "
        f"AND r.parent_ref IN :secs AND r.parent_ref IS NOT NULL AND r.day >= :s AND r.day <= :e AND {CURRENT.format(t='r')}"
    )
    params: dict[str, Any] = {
        "src": student.source,
        "secs": sorted(sections),
        "s": start,
        "e": end,
        "p": student.published_run,
    }
    sql = newest_first(sql, params, window=window, after=after, limit=limit)
    return _lists(sql, params, ["secs"])


def _assignments_found(
    reader: Reader, student: StudentHandle, rows: list[Any]
) -> list[tuple[str, str, dict[str, Any]]]:
    run = student.published_run
    return [
        (ref, sec, open_shared(reader, student.source, "assignment", ref, k, p, run))
        for ref, k, p, sec in rows
    ]


def _with_results(
    found: list[tuple[str, str, dict[str, Any]]], results: dict[str, dict[str, Any]]
) -> list[tuple[str, str, dict[str, Any], dict[str, Any] | None]]:
    return [(ref, sec, a, results.get(ref)) for ref, sec, a in found]


def _results(
    reader: Reader, student: StudentHandle, assignment_refs: list[str], status: str | None = None
) -> dict[str, dict[str, Any]]:
    """The student's results (personal: decrypted every time) of these assignments, by assignment.

    The ``IN`` list (never empty here) lets SQLite and PostgreSQL use the partial index
    ``ix_record_student_parent`` (its ``parent_ref IS NOT NULL`` follows from ``parent_ref
    IN``) and seek each assignment; a redundant ``r.parent_ref IS NOT NULL`` made SQLite
    read the child's every result as a range instead.

    With ``status``, only the results of that status: every result is still read and
    authenticated, but only a payload that holds the status's JSON text (``"missing"``:
    the writer, orjson, writes a status as that string, never escaped) is parsed, and then
    kept only if its status is that one. The answer is the unfiltered one's entries of
    that status.
    """
    if not assignment_refs:
        return {}
    return _results_opened(reader, student, reader.query_in(*_results_read(student, assignment_refs)), status)


async def _aresults(
    reader: Reader, student: StudentHandle, assignment_refs: list[str]
) -> dict[str, dict[str, Any]]:
    """:func:`_results` (every status), the read awaited (``Reader.aquery_in``)."""
    if not assignment_refs:
        return {}
    rows = await reader.aquery_in(*_results_read(student, assignment_refs))
    return _results_opened(reader, student, rows, None)


def _results_read(student: StudentHandle, assignment_refs: list[str]) -> In:
    return _lists(
        f"SELECT ref, key_id, payload, parent_ref FROM record r WHERE r.source = :src AND r.kind = 'result' "
        f"AND r.student_ref = :sref AND r.parent_ref IN :arefs AND {CURRENT.format(t='r')}",
        {
            "src": student.source,
            "sref": student.ref,
            "arefs": assignment_refs,
            "p": student.published_run,
        },
        ["arefs"],
    )


def _results_opened(
    reader: Reader, student: StudentHandle, res_rows: list[Any], status: str | None
) -> dict[str, dict[str, Any]]:
    """The rows of :func:`_results_read` decrypted, by assignment (see :func:`_results`)."""
    results: dict[str, dict[str, Any]] = {}
    src = student.source
    rows = [(src, ref, k, p) for ref, k, p, _ in res_rows]
    if status is None:
        for row, result in zip(res_rows, reader.open_rows("result", rows), strict=True):
            results[row[3]] = result
        return results
    marker = orjson.dumps(status)
    other: dict[str, Any] = {}  # an assignment's later result replaces an earlier one, as above
    for row, blob in zip(res_rows, reader.open_blobs("result", rows), strict=True):
        # find, not ``in``: bytes' ``in`` first tries the marker as an integer (a raised
        # and cleared TypeError each time, dearer than the search itself).
        parsed: dict[str, Any] | None = orjson.loads(blob) if blob.find(marker) >= 0 else None
        results[row[3]] = parsed if parsed is not None and parsed.get("status") == status else other
    return {k: v for k, v in results.items() if v is not other}


def _due(assignment: tuple[str, Any, Any, dict[str, Any]]) -> Any:
    return assignment[1]


def assignments_due(
    reader: Reader,
    student: StudentHandle,
    start: dt.date,
    end: dt.date,
    *,
    window: Window,
    status: str | None = None,
) -> list[tuple[str, str, dict[str, Any], dict[str, Any] | None]]:
    """:func:`assignments` (all of them, latest first), from each class's assignments held in memory.

    The same rows: each condition compares the column as the driver returns it with the
    value bound as the driver binds it (text on SQLite, dates on PostgreSQL), as the
    query does. The same order, with assignments due the same day by ref in code-point
    order (SQLite's). Only the student's results are read per request.

    With ``status``, only the assignments whose result has that status, each with it
    (the same rows, filtered; see :func:`_results`).
    """
    sections = enrollments(reader, student)
    if not sections:
        return []
    source, run = student.source, student.published_run
    held = _remembered(reader).class_assignments
    by_class, missing = _held(held, source, sorted(sections), run)
    if missing:
        rows = _in(
            reader,
            "SELECT ref, key_id, payload, parent_ref, day, stamp FROM record r WHERE r.source = :src "
            "AND r.kind = 'assignment' AND r.parent_ref IN :secs AND r.parent_ref IS NOT NULL "
            f"AND {CURRENT.format(t='r')}",
            {"src": source, "secs": missing, "p": run},
            ["secs"],
        )
        by_section: dict[str, list[tuple[str, Any, Any, dict[str, Any]]]] = {}
        for ref, k, p, sec, day, stamp in rows:
            if day is not None:  # no due date: never in a range
                a = open_shared(reader, source, "assignment", ref, k, p, run)
                by_section.setdefault(sec, []).append((ref, day, stamp, a))
        for sec in missing:  # in due-date order, for the range's bisection below
            listed = sorted(by_section.get(sec, []), key=_due)
            by_class[sec] = remember(held, (source, sec, run), listed, 20_000)
    bind = binder(reader.conn.dialect.name)
    lo: Any = bind(start)
    hi: Any = bind(end)
    shown = bind(window.visible_before)
    hidden = None if window.hidden_day is None else bind(window.hidden_day)
    found = []
    for sec, due in sorted(by_class.items()):
        first = bisect.bisect_left(due, lo, key=_due)
        last = bisect.bisect_right(due, hi, key=_due)
        found += [
            (ref, sec, day, a)
            for ref, day, stamp, a in due[first:last]
            if (stamp is None or stamp <= shown) and (hidden is None or day != hidden)
        ]
    # ORDER BY r.day DESC, r.ref: sorts are stable, the last key first.
    found.sort(key=lambda f: f[0])
    found.sort(key=lambda f: f[2], reverse=True)
    results = _results(reader, student, [f[0] for f in found], status)
    if status is not None:
        return [(ref, sec, a, results[ref]) for ref, sec, _, a in found if ref in results]
    return [(ref, sec, a, results.get(ref)) for ref, sec, _, a in found]


def audiences(reader: Reader, students: list[StudentHandle], today: dt.date) -> list[str]:
    """The notice audiences of these students: district, their schools, year groups, classes."""
    index = reader.keyring.index
    out = {"district"}
    for s in students:
        school = index.shared_ref(s.source, "school", s.data["school_id"])
        out.add(f"school:{school}")
        out.add(f"year:{school}:{s.data['grade_level']}")
        out.update(f"section:{sec}" for sec in enrollments(reader, s, today, today))
    return sorted(out)


async def aaudiences(reader: Reader, students: list[StudentHandle], today: dt.date) -> list[str]:
    """:func:`audiences`, each student's enrolments read awaited first (:func:`aenrolled`)."""
    for s in students:
        await aenrolled(reader, s)
    return audiences(reader, students, today)


def notices(
    reader: Reader,
    source: str,
    published: int,
    audience: list[str],
    *,
    now: dt.datetime,
    today: dt.date,
    since: dt.date,
    after: tuple[str, str, str] | None = None,
    limit: int = 100,
) -> list[tuple[str, bool, dict[str, Any]]]:
    """Published notices for ``audience``: current ones first, then those ended since ``since``."""
    read = _notices_read(source, published, audience, now, today, since, after, limit)
    return _notices_found(reader, source, published, reader.query_in(*read))


async def anotices(
    reader: Reader,
    source: str,
    published: int,
    audience: list[str],
    *,
    now: dt.datetime,
    today: dt.date,
    since: dt.date,
    after: tuple[str, str, str] | None = None,
    limit: int = 100,
) -> list[tuple[str, bool, dict[str, Any]]]:
    """:func:`notices`, the read awaited (``Reader.aquery_in``) with the notices' data key
    (``Reader.ahold``)."""
    read = _notices_read(source, published, audience, now, today, since, after, limit)
    rows = await reader.aquery_in(*read)
    await reader.ahold(row[1] for row in rows)  # the notices' key, if not in memory yet
    return _notices_found(reader, source, published, rows)


def _notices_read(
    source: str,
    published: int,
    audience: list[str],
    now: dt.datetime,
    today: dt.date,
    since: dt.date,
    after: tuple[str, str, str] | None,
    limit: int,
) -> In:
    current = "(CASE WHEN r.active_to IS NULL OR r.active_to >= :today THEN 1 ELSE 0 END)"
    sql = (
        f"SELECT ref, key_id, payload, {current} AS cur, stamp FROM record r WHERE r.source = :src "
        f"AND r.kind = 'notice' AND r.audience IN :aud AND r.stamp <= :now "
        f"AND (r.active_to IS NULL OR r.active_to >= :since) AND {CURRENT.format(t='r')}"
    )
    params: dict[str, Any] = {
        "src": source,
        "aud": audience,
        "now": now,
        "today": today,
        "since": since,
        "p": published,
    }
    if after is not None:
        cur, stamp = int(after[0]), dt.datetime.fromisoformat(after[1])
        sql += (
            f" AND ({current} < :ac OR ({current} = :ac AND (r.stamp < :ast "
            f"OR (r.stamp = :ast AND r.ref > :ar))))"
        )
        params.update(ac=cur, ast=stamp, ar=after[2])
    sql += " ORDER BY cur DESC, r.stamp DESC, r.ref LIMIT :lim"
    params["lim"] = limit
    return _lists(sql, params, ["aud"])


def _notices_found(
    reader: Reader, source: str, published: int, rows: list[Any]
) -> list[tuple[str, bool, dict[str, Any]]]:
    return [
        (ref, bool(cur), open_shared(reader, source, "notice", ref, k, p, published))
        for ref, k, p, cur, _ in rows
    ]


def notices_now(
    reader: Reader,
    source: str,
    published: int,
    audience: list[str],
    *,
    now: dt.datetime,
    today: dt.date,
    since: dt.date,
    limit: int = 100,
) -> list[tuple[str, bool, dict[str, Any]]]:
    """:func:`notices` (first page), chosen from the snapshot's notices held in memory.

    The same rows: each condition of :func:`notices` compares the column as the driver
    returns it with the value bound as the driver binds it (text on SQLite, dates on
    PostgreSQL), so a comparison means what it means in that query. The same order, with
    notices of the very same moment by ref in code-point order (SQLite's).
    """
    key = (source, published)
    held = _remembered(reader).notices
    by_audience = held.get(key)
    if by_audience is None:
        by_audience = {}
        for ref, aud, stamp, active_to, key_id, payload in reader.query(
            "SELECT ref, audience, stamp, active_to, key_id, payload FROM record r WHERE r.source = :src "
            f"AND r.kind = 'notice' AND r.stamp IS NOT NULL AND {CURRENT.format(t='r')}",
            {"src": source, "p": published},
        ):
            by_audience.setdefault(aud, []).append((ref, stamp, active_to, key_id, payload))
        remember(held, key, by_audience, 16)  # one entry per published snapshot
    bind = binder(reader.conn.dialect.name)
    b_now, b_today, b_since = bind(now), bind(today), bind(since)
    found = [
        (ref, active_to is None or active_to >= b_today, stamp, key_id, payload)
        for aud in set(audience)
        for ref, stamp, active_to, key_id, payload in by_audience.get(aud, ())
        if stamp <= b_now and (active_to is None or active_to >= b_since)
    ]
    # ORDER BY cur DESC, stamp DESC, ref: sorts are stable, the last key first.
    found.sort(key=lambda f: f[0])
    found.sort(key=lambda f: f[2], reverse=True)
    found.sort(key=lambda f: f[1], reverse=True)
    return [
        (ref, cur, open_shared(reader, source, "notice", ref, k, p, published))
        for ref, cur, _, k, p in found[:limit]
    ]
