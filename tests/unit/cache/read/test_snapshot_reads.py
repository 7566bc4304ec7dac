"""Shared records held in memory per snapshot give the rows their queries give, in order."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cache.read import queries
from cache.read.reader import Reader, StudentHandle
from cache.read.visibility import Window
from cache.store import Cache, open_cache
from cache.types import expanded
from gateway.sync.engine import SyncEngine, SyncOutcome
from tests.support.clock import TODAY
from tests.support.config import make_config
from tests.support.connectors import ListConnector, streams
from tests.support.district import district

NOON = dt.datetime.combine(TODAY, dt.time(12), dt.UTC)


@contextlib.contextmanager
def synced(tmp_path: Path, db_url: str, data: dict[str, list[Any]]) -> Iterator[tuple[Cache, SyncOutcome]]:
    """A cache with ``data`` synced and published as source ``sis``; disposed afterwards."""
    cfg, secrets = make_config(tmp_path, db_url)
    cache = open_cache(cfg, secrets)
    try:
        out = SyncEngine(cache.engine, cache.keyring, cfg, cfg.connectors[0]).run(
            ListConnector("sis", data, page_size=500)
        )
        assert out.status == "published" and out.run_id is not None
        yield cache, out
    finally:
        cache.dispose()


def student(reader: Reader, cache: Cache, run: int, st: Any) -> StudentHandle:
    """The handle of the district's student ``st`` in snapshot ``run``, as an operator reads it."""
    handle = reader.for_operator("sis", run, cache.keyring.index.ref("sis", "student", st.source_id))
    assert handle is not None
    return handle


def test_class_assignments_and_notices_from_memory_are_the_querys_rows(tmp_path: Path, db_url: str) -> None:
    sim = district(24, schools=2, seed=11)
    data = streams(sim)
    with synced(tmp_path, db_url, data) as (cache, out):
        windows = [
            Window(dt.timedelta(0), NOON, None),
            Window(dt.timedelta(days=2), NOON - dt.timedelta(days=2), TODAY),  # a lag, and today hidden
        ]
        compared = 0
        with cache.engine.connect() as conn:
            reader = Reader(conn, cache.keyring)
            sqlite = conn.dialect.name == "sqlite"
            for st in data["student"]:
                s = student(reader, cache, out.run_id, st)
                for w in windows:
                    for start, end in (
                        (TODAY - dt.timedelta(days=30), TODAY),
                        (TODAY - dt.timedelta(days=90), TODAY + dt.timedelta(days=30)),
                    ):
                        by_query = queries.assignments(reader, s, start, end, window=w, limit=100_000)
                        in_memory = queries.assignments_due(reader, s, start, end, window=w)
                        # Assignments due the same day are by ref in code-point order in memory
                        # (SQLite's); PostgreSQL's collation may order those ties otherwise.
                        assert in_memory == by_query if sqlite else sorted(in_memory) == sorted(by_query)
                        assert [a[2]["due_date"] for a in in_memory] == [a[2]["due_date"] for a in by_query]
                        compared += len(by_query)
                audience = queries.audiences(reader, [s], TODAY)
                for w in windows:
                    args = dict(
                        now=w.visible_before, today=TODAY, since=TODAY - dt.timedelta(days=30), limit=50
                    )
                    by_query_n = queries.notices(reader, "sis", out.run_id, audience, **args)
                    in_memory_n = queries.notices_now(reader, "sis", out.run_id, audience, **args)
                    assert [n[0] for n in in_memory_n] == [n[0] for n in by_query_n] or not sqlite
                    assert sorted(in_memory_n, key=lambda n: n[0]) == sorted(by_query_n, key=lambda n: n[0])
                    compared += len(by_query_n)
        assert compared > 500  # the district has work due and notices to compare


def test_a_childs_missing_assignments_are_the_unfiltered_reads_missing_ones(
    tmp_path: Path, db_url: str
) -> None:
    """``assignments_due(status="missing")`` parses only the results whose payload can hold
    that status: it answers exactly the unfiltered read's assignments with a missing result,
    in the same order, also where another field says "missing" (parsed, then left out)."""
    data = streams(district(24, schools=2, seed=11))
    results: list[Any] = data["result"]
    # "missing" in a comment and as the source's own word on results that are not missing.
    decoys = [i for i, r in enumerate(results) if r.status != "missing"][::7]
    for i in decoys:
        results[i] = dataclasses.replace(results[i], comment="missing", source_status="missing")
    with synced(tmp_path, db_url, data) as (cache, out):
        window = Window(dt.timedelta(0), NOON, None)
        with cache.engine.connect() as conn:
            reader = Reader(conn, cache.keyring)
            found = 0
            for st in data["student"]:
                s = student(reader, cache, out.run_id, st)
                for start in (TODAY - dt.timedelta(days=30), TODAY - dt.timedelta(days=365)):
                    every = queries.assignments_due(reader, s, start, TODAY, window=window)
                    missing = queries.assignments_due(
                        reader, s, start, TODAY, window=window, status="missing"
                    )
                    assert missing == [a for a in every if a[3] and a[3]["status"] == "missing"]
                    found += len(missing)
                    decoyed = [a for a in every if a[3] and a[3]["comment"] == "missing"]
                    assert all(a[3]["status"] != "missing" for a in decoyed)
    assert found > 20 and decoys  # the district has missing work, and results that only say it


def test_a_childs_results_and_own_lessons_are_found_through_ix_record_student_parent(
    tmp_path: Path, sqlite_url: str
) -> None:
    """The read under given parents for one student (the results of the assignments a page
    shows) seeks the student's rows under each parent, not every student's rows under it
    (ix_record_parent); the student's own lessons come with its enrolments, one seek of each
    kind in the student's rows (ix_record_student), not a scan of the classes' lessons."""
    data = streams(district(24, schools=1, seed=11))
    with synced(tmp_path, sqlite_url, data) as (cache, out):
        with cache.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            reader = Reader(conn, cache.keyring)
            ran: list[tuple[str, Any]] = []
            query, query_in = reader.query, reader.query_in

            def recorded(sql: str, params: dict[str, Any]) -> list[Any]:
                ran.append((sql, params))
                return query(sql, params)

            def recorded_in(sql: str, params: dict[str, Any], lists: dict[str, list[Any]]) -> list[Any]:
                # The statement as the driver runs it: each list's values bound by position.
                text, order = expanded(sql, tuple((k, len(v)) for k, v in lists.items()), "sqlite")
                ran.append((text, tuple(x for n in order for x in lists.get(n, [params.get(n)]))))
                return query_in(sql, params, lists)

            reader.query = recorded  # type: ignore[method-assign]
            reader.query_in = recorded_in  # type: ignore[method-assign]
            results = 0
            for st in data["student"][:6]:
                s = student(reader, cache, out.run_id, st)
                due = queries.assignments_due(
                    reader,
                    s,
                    TODAY - dt.timedelta(days=60),
                    TODAY,
                    window=Window(dt.timedelta(0), NOON, None),
                )
                results += sum(result is not None for *_, result in due)
                queries.timetable(reader, s, TODAY, TODAY + dt.timedelta(days=6), None)
            assert results > 0  # results were read
            plans = {
                (kind, index): [
                    row[-1]
                    for sql, params in ran
                    if kind in sql and "student_ref = " in sql
                    for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()
                ]
                for kind, index in (
                    ("kind = 'result'", "INDEX ix_record_student_parent"),
                    (
                        "kind IN ('enrollment', 'timetable')",
                        "INDEX ix_record_student (student_ref=? AND kind=?)",
                    ),
                )
            }
        for (kind, index), plan in plans.items():
            assert plan and all(index in step for step in plan), (kind, plan)


def test_two_caches_with_the_same_source_and_run_never_share_what_they_remember(tmp_path: Path) -> None:
    # Two districts in one process, each with a source named "sis" at run 1: the notices
    # held in memory per snapshot are each cache's own, never the other's.
    opened = []
    try:
        for seed in (11, 12):
            (tmp_path / str(seed)).mkdir()
            cfg, secrets = make_config(tmp_path / str(seed), f"sqlite:///{tmp_path / f'{seed}.db'}")
            cache = open_cache(cfg, secrets)
            opened.append(cache)
            out = SyncEngine(cache.engine, cache.keyring, cfg, cfg.connectors[0]).run(
                ListConnector("sis", streams(district(12, schools=1, seed=seed)), page_size=500)
            )
            assert out.status == "published" and out.run_id == 1
        seen = []
        for cache in opened:
            with cache.engine.connect() as conn:
                reader = Reader(conn, cache.keyring)
                rows = reader.query(
                    "SELECT DISTINCT audience FROM record WHERE source = 'sis' AND kind = 'notice'", {}
                )
                audience = [r[0] for r in rows]
                late = NOON + dt.timedelta(days=400)
                args = dict(now=late, today=TODAY, since=TODAY - dt.timedelta(days=400), limit=50)
                by_query = queries.notices(reader, "sis", 1, audience, **args)
                in_memory = queries.notices_now(reader, "sis", 1, audience, **args)
                assert by_query and sorted(n[0] for n in in_memory) == sorted(n[0] for n in by_query)
                seen.append({n[0] for n in in_memory})
        assert seen[0] != seen[1]
    finally:
        for cache in opened:
            cache.dispose()


def test_enrolments_are_read_from_their_index_columns_and_reports_chosen_by_their_issue_date(
    tmp_path: Path, db_url: str
) -> None:
    data = streams(district(24, schools=1, seed=11))
    with synced(tmp_path, db_url, data) as (cache, out):
        run = out.run_id
        week = (TODAY - dt.timedelta(days=3), TODAY + dt.timedelta(days=10))
        since = TODAY - dt.timedelta(days=30)

        def read() -> tuple[list[list[queries.Lesson]], list[list[str]], list[list[str]], int]:
            with cache.engine.connect() as conn:
                reader = Reader(conn, cache.keyring)
                handles = [
                    reader.for_operator("sis", run, cache.keyring.index.ref("sis", "student", st.source_id))
                    for st in data["student"]
                ]
                found = [h for h in handles if h is not None]
                lessons = [queries.timetable(reader, h, *week, None) for h in found]
                every = [reader.records(h, "report", limit=100_000) for h in found]
                recent = [reader.records(h, "report", day_from=since, limit=100_000) for h in found]
            # A report's day column is its issue date: "since" in SQL keeps exactly those
            # issued since, in the same order.
            chosen = [[ref for ref, r in rows if r["issued_date"] >= since.isoformat()] for rows in every]
            return lessons, chosen, [[ref for ref, _ in rows] for rows in recent], sum(map(len, every))

        lessons, chosen, recent, reports = read()
        assert recent == chosen
        assert 0 < sum(map(len, recent)) < reports  # some reports are recent, some older
        assert sum(map(len, lessons)) > 50
        # The enrolments' payloads are neither needed nor read: the same lessons without them.
        with cache.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE record SET payload = digest WHERE kind = 'enrollment'")
        queries._CLASS_TIMETABLES.clear()
        assert read()[0] == lessons


def test_a_class_joined_or_left_mid_week_shows_its_lessons_only_between_those_days(
    tmp_path: Path, db_url: str
) -> None:
    """An enrolment's first and last day come from its index columns (its payload is not
    read): one class joined on one day and another left on a later one show their lessons
    only while the child is enrolled, the rest of the timetable unchanged."""
    data = streams(district(24, schools=1, seed=11))
    joined, left = TODAY + dt.timedelta(days=2), TODAY + dt.timedelta(days=5)
    st = data["student"][0]
    mine = [e for e in data["enrollment"] if e.student_id == st.source_id]
    assert len(mine) >= 3
    late, early = mine[0], mine[1]
    data["enrollment"] = [
        dataclasses.replace(e, start_date=joined)
        if e is late
        else dataclasses.replace(e, end_date=left)
        if e is early
        else e
        for e in data["enrollment"]
    ]
    with synced(tmp_path, db_url, data) as (cache, out):
        with cache.engine.connect() as conn:
            reader = Reader(conn, cache.keyring)
            handle = student(reader, cache, out.run_id, st)
            lessons = queries.timetable(reader, handle, TODAY, TODAY + dt.timedelta(days=13), None)
        by_section: dict[str, set[dt.date]] = {}
        for lesson in lessons:
            by_section.setdefault(lesson.section_ref, set()).add(lesson.day)
        late_ref, early_ref = (cache.keyring.index.ref("sis", "section", e.section_id) for e in (late, early))
        assert by_section.get(late_ref) and min(by_section[late_ref]) >= joined
        assert by_section.get(early_ref) and max(by_section[early_ref]) <= left
        others = [d for ref, d in by_section.items() if ref not in (late_ref, early_ref)]
        assert any(min(d) < joined and max(d) > left for d in others)


def test_a_class_left_and_joined_again_shows_its_lessons_in_both_enrolments_and_not_between(
    tmp_path: Path, db_url: str
) -> None:
    """A child who left a class and joined it again has two enrolments in it (PowerSchool
    keeps one CC row for each): the class's lessons show in both, and not in the days
    between. Two classes, their two enrolments synced in opposite orders, so that each
    order of the rows is read."""
    data = streams(district(24, schools=1, seed=11))
    st = data["student"][0]
    mine = [e for e in data["enrollment"] if e.student_id == st.source_id][:2]
    left, back = TODAY + dt.timedelta(days=3), TODAY + dt.timedelta(days=10)
    twice = []
    for n, e in enumerate(mine):
        pair = [
            dataclasses.replace(e, end_date=left),
            dataclasses.replace(e, source_id=e.source_id + "-again", start_date=back, end_date=None),
        ]
        twice += pair if n == 0 else pair[::-1]
    data["enrollment"] = [e for e in data["enrollment"] if e not in mine] + twice
    with synced(tmp_path, db_url, data) as (cache, out):
        with cache.engine.connect() as conn:
            reader = Reader(conn, cache.keyring)
            handle = student(reader, cache, out.run_id, st)
            lessons = queries.timetable(reader, handle, TODAY, TODAY + dt.timedelta(days=20), None)
        for e in mine:
            ref = cache.keyring.index.ref("sis", "section", e.section_id)
            days = {lesson.day for lesson in lessons if lesson.section_ref == ref}
            assert any(d <= left for d in days) and any(d >= back for d in days), e.section_id
            assert not any(left < d < back for d in days), e.section_id


def test_a_childs_assignments_are_read_when_the_classes_held_are_cleared_for_room(
    tmp_path: Path, db_url: str
) -> None:
    """The classes' assignments held in memory are cleared when they reach their bound: a
    read that finds some of a child's classes held and the others not, and clears the held
    ones to make room for the others, still answers every class's assignments."""
    data = streams(district(24, schools=1, seed=11))
    with synced(tmp_path, db_url, data) as (cache, out):
        window = Window(dt.timedelta(0), NOON, None)
        span = (TODAY - dt.timedelta(days=365), TODAY + dt.timedelta(days=365))
        with cache.engine.connect() as conn:
            reader = Reader(conn, cache.keyring)
            st = data["student"][0]
            s = student(reader, cache, out.run_id, st)
            first = queries.assignments_due(reader, s, *span, window=window)
            held = queries._remembered(reader).class_assignments
            mine = sorted(key for key in held if key[0] == s.source and key[2] == s.published_run)
            assert len(mine) >= 2 and {a[1] for a in first} == {key[1] for key in mine}
            del held[mine[0]]  # one class not held, the others held ...
            held.update({("elsewhere", f"s{i}", 0): [] for i in range(20_001)})  # ... in a full memory
            assert queries.assignments_due(reader, s, *span, window=window) == first


def test_a_childs_timetable_is_read_when_the_classes_held_are_cleared_for_room(
    tmp_path: Path, db_url: str
) -> None:
    """As the assignments above, for the classes' timetables: a week read with some of the
    child's classes held and the others not, the held ones cleared to make room for the
    others, is the week read with none held."""
    data = streams(district(24, schools=1, seed=11))
    with synced(tmp_path, db_url, data) as (cache, out):
        week = (TODAY - dt.timedelta(days=TODAY.weekday()), TODAY - dt.timedelta(days=TODAY.weekday() - 6))
        with cache.engine.connect() as conn:
            reader = Reader(conn, cache.keyring)
            st = data["student"][0]
            s = student(reader, cache, out.run_id, st)
            queries._CLASS_TIMETABLES.clear()
            first = queries.timetable(reader, s, *week, None)
            held = queries._CLASS_TIMETABLES
            mine = sorted(key for key in held if key[0] == s.source and key[2] == s.published_run)
            assert len(mine) >= 2 and {x.section_ref for x in first} == {key[1] for key in mine}
            del held[mine[0]]  # one class not held, the others held ...
            held.update({("elsewhere", f"s{i}", 0): {} for i in range(20_001)})  # ... in a full memory
            assert queries.timetable(reader, s, *week, None) == first
            assert held.keys() == {mine[0]}  # the memory emptied, then the missing class held
            queries._CLASS_TIMETABLES.clear()
