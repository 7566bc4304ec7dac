"""Detection reads a run's own versions through their index, not the district."""

from __future__ import annotations

from pathlib import Path

from gateway.alerts.detect import change_set_sql
from tests.support.alerts import family


def test_the_change_set_is_read_through_ix_record_change(tmp_path: Path, sqlite_url: str) -> None:
    fam = family(tmp_path, sqlite_url)
    with fam.app.cache.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + change_set_sql("sqlite"), {"s": "sis", "r": 2}
        ).all()
    assert len(plan) == 1 and "INDEX ix_record_change (source=? AND valid_from=?)" in plan[0][-1]
    fam.app.dispose()
