"""Per-kind thresholds for deletes and shrinkage, as shares and absolute counts, hold a snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest

from cache.store import open_cache
from gateway.sync.engine import SyncEngine
from tests.support.config import make_config
from tests.support.connectors import ListConnector
from tests.support.records import family, student


def engine_with(tmp_path: Path, sqlite_url: str, student_rule: dict[str, object]) -> SyncEngine:
    sis = {"name": "sis", "type": "powerschool", "guards": {"per_kind": {"student": student_rule}}}
    config, secrets = make_config(tmp_path, sqlite_url, connectors=[sis])
    cache = open_cache(config, secrets)
    return SyncEngine(cache.engine, cache.keyring, config, config.connectors[0])


def swap(data: dict[str, list], remove: int, add: int) -> dict[str, list]:
    kept = data["students"][remove:]
    data = dict(data)
    data["students"] = kept + [student(1000 + i) for i in range(add)]
    return data


@pytest.mark.parametrize(
    ("rule", "remove", "add", "held"),
    [
        ({"max_drop_share": 1.0, "max_shrink_share": 0.05}, 10, 5, False),  # shrinks by 5 of 100
        ({"max_drop_share": 1.0, "max_shrink_share": 0.05}, 10, 2, True),  # shrinks by 8 of 100
        ({"max_drop_share": 1.0, "max_shrink_count": 3}, 5, 2, False),
        ({"max_drop_share": 1.0, "max_shrink_count": 3}, 5, 1, True),
        ({"max_drop_share": 1.0, "max_drop_count": 4}, 5, 5, True),  # churn: no shrink, 5 removed
        ({"max_drop_share": 0.04}, 5, 5, True),
        ({"max_drop_share": 0.05}, 5, 5, False),
    ],
)
def test_thresholds_per_kind_hold_only_past_their_limit(
    tmp_path: Path, sqlite_url: str, rule: dict[str, object], remove: int, add: int, held: bool
) -> None:
    engine = engine_with(tmp_path, sqlite_url, rule)
    data = family(100)
    assert engine.run(ListConnector("sis", data)).status == "published"
    out = engine.run(ListConnector("sis", swap(data, remove, add)))
    assert (out.status == "held") is held, out.hold_reasons
    if held:
        assert all("First" not in r and "Last" not in r for r in out.hold_reasons)
        assert any("student" in r for r in out.hold_reasons)


def test_a_shrink_hold_names_the_kind_and_the_figures(tmp_path: Path, sqlite_url: str) -> None:
    engine = engine_with(tmp_path, sqlite_url, {"max_drop_share": 1.0, "max_shrink_share": 0.05})
    data = family(100)
    engine.run(ListConnector("sis", data))
    out = engine.run(ListConnector("sis", swap(data, 10, 0)))
    assert out.hold_reasons == ["student records would shrink by 10 of 100 (more than 5%)"]
