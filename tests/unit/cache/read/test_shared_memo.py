"""Decrypted non-personal records remembered per snapshot: assignments and notices in a memo
of their own, so a district with more of them than the bound never empties the schools and
classes every request reads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

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


def test_assignments_past_the_bound_leave_the_schools_and_classes_remembered(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = district(14, schools=1, seed=7)
    data = streams(sim)
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
    school, sections = (
        ref("school", data["school"][0].source_id),
        [ref("section", s.source_id) for s in data["section"]],
    )
    students = sorted({e.student_id for e in data["enrollment"]})
    monkeypatch.setattr(queries, "MEMO_BOUND", 10)  # fewer than one student's assignments
    with cache.engine.connect() as conn:
        reader = Reader(conn, cache.keyring)
        memo = queries._remembered(reader)
        memo.shared.clear()
        memo.opened.clear()
        queries.shared_many(reader, "sis", "school", [school], run)
        queries.shared_many(reader, "sis", "section", sections[:5], run)
        kept = dict(memo.shared)
        assert len(kept) == 6
        seen = 0
        for sid in students:
            student = StudentHandle(ref("student", sid), "sis", run, {})
            found = queries.assignments(
                reader, student, TODAY - dt.timedelta(days=365), TODAY + dt.timedelta(days=365)
            )
            seen += len(found)
            assert memo.shared == kept  # the school and the classes still remembered
            assert len(memo.opened) <= 10  # the assignments' own memo holds to its bound
        assert seen > 10 * 3, "too few assignments to pass the bound"
    cache.dispose()
