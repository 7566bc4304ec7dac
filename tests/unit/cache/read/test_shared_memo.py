"""Decrypted non-personal records remembered per snapshot: assignments and notices in a memo
of their own, so a district with more of them than the bound never empties the schools and
classes every request reads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cache.read import queries
from cache.read.reader import Reader, StudentHandle
from cache.snapshots.runs import load_state
from tests.support.clock import TODAY
from tests.support.world import build_world


def test_assignments_past_the_bound_leave_the_schools_and_classes_remembered(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = build_world(tmp_path, db_url)
    cache = w.cache
    school = w.ref("school", next(iter(w.district.iter("school"))).source_id)
    sections = sorted(w.ref("section", s.source_id) for s in w.district.iter("section"))[:5]
    students = sorted({e.student_id for e in w.district.iter("enrollment")})
    monkeypatch.setattr(queries, "MEMO_BOUND", 10)  # fewer than one student's assignments
    with cache.engine.connect() as conn:
        state = load_state(conn, "sis")
        assert state is not None and state.published_run is not None
        run = state.published_run
        reader = Reader(conn, cache.keyring)
        memo = queries._remembered(reader)
        memo.shared.clear()
        memo.opened.clear()
        queries.shared_many(reader, "sis", "school", [school], run)
        queries.shared_many(reader, "sis", "section", sections, run)
        kept = dict(memo.shared)
        assert len(kept) == 1 + len(sections)
        seen = 0
        for sid in students:
            student = StudentHandle(w.ref("student", sid), "sis", run, {})
            year = dt.timedelta(days=365)
            seen += len(queries.assignments(reader, student, TODAY - year, TODAY + year))
            assert memo.shared == kept  # the school and the classes still remembered
            assert len(memo.opened) <= 10  # the assignments' own memo holds to its bound
        assert seen > 10 * 3, "too few assignments to pass the bound"
    w.close()
