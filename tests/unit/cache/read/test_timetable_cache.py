"""A class's timetable is read once per snapshot and shared; a student's own lessons are theirs alone."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from cache import maintenance
from cache.read import queries
from cache.read.reader import Reader, StudentHandle
from cache.store import open_cache
from gateway.sync.engine import SyncEngine
from tests.support.clock import TODAY
from tests.support.config import make_config
from tests.support.connectors import ListConnector, streams
from tests.support.district import district

WEEK = (
    TODAY - dt.timedelta(days=TODAY.weekday()),
    TODAY - dt.timedelta(days=TODAY.weekday()) + dt.timedelta(days=6),
)


def test_a_students_own_lesson_is_theirs_alone_and_class_lessons_are_shared(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = district(14, schools=1, seed=7)  # the seed the class chosen below was picked from
    data = streams(sim)
    by_section: dict[str, list[str]] = {}
    for e in data["enrollment"]:
        by_section.setdefault(e.section_id, []).append(e.student_id)
    section, members = next((sec, kids) for sec, kids in sorted(by_section.items()) if len(kids) >= 2)
    me, classmate = members[0], members[1]
    template = next(t for t in data["timetable"] if t.section_id == section)
    # A lesson of that class for one student only: a weekday the class has no lesson on, this week.
    taken = {t.day for t in data["timetable"] if t.section_id == section}
    free = next(d for d in range(1, 6) if d not in taken)
    own = dataclasses.replace(
        template, source_id="own-lesson-1", student_id=me, day=free, week_pattern="every"
    )
    data["timetable"] = [*data["timetable"], own]
    cfg, secrets = make_config(tmp_path, db_url)
    cache = open_cache(cfg, secrets)
    out = SyncEngine(
        cache.engine,
        cache.keyring,
        cfg,
        cfg.connectors[0],
        on_published=[maintenance.after_publish(cache.engine)],
    ).run(ListConnector("sis", data, page_size=500))
    assert out.status == "published" and out.run_id is not None
    run = out.run_id
    ref = lambda kind, sid: cache.keyring.index.ref("sis", kind, sid)  # noqa: E731
    own_ref, sec_ref = ref("timetable", own.source_id), ref("section", section)
    queries._CLASS_TIMETABLES.clear()
    with cache.engine.connect() as conn:
        reader = Reader(conn, cache.keyring)

        def lessons(student: str) -> list[queries.Lesson]:
            handle = StudentHandle(ref("student", student), "sis", run, {})
            return queries.timetable(reader, handle, WEEK[0], WEEK[1], None)

        mine, theirs = lessons(me), lessons(classmate)
        assert own_ref in {x.entry_ref for x in mine}
        assert own_ref not in {x.entry_ref for x in theirs}  # never in a classmate's timetable
        assert [x.day.isoweekday() for x in mine if x.entry_ref == own_ref] == [free]
        shared = {x.entry_ref for x in mine if x.section_ref == sec_ref} - {own_ref}
        assert shared and shared == {x.entry_ref for x in theirs if x.section_ref == sec_ref}
        # The class's entries were read once and are remembered without the student's own.
        cached = {r for day in queries._CLASS_TIMETABLES[("sis", sec_ref, run)].values() for r, _, _ in day}
        assert own_ref not in cached and cached >= shared
        # A remembered class timetable gives the same week as a fresh read, and the week
        # then costs one statement: the student's enrolments and own lessons together.
        statements: list[str] = []
        real_query = reader.query

        def counted(sql: str, params: dict[str, Any]) -> list[Any]:
            statements.append(sql)
            return real_query(sql, params)

        monkeypatch.setattr(reader, "query", counted)
        reader.memo.clear()  # a new request's reader: nothing of this student read yet
        assert lessons(me) == mine
        assert len(statements) == 1, statements
        monkeypatch.undo()
        queries._CLASS_TIMETABLES.clear()
        assert lessons(classmate) == theirs
    cache.dispose()
