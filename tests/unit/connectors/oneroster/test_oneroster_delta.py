"""OneRoster deltas through the sync engine: a delta changes only what it names, an absent
file changes nothing, ``tobedeleted`` deletes, and a delta is never read as a full snapshot."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cache.snapshots.runs import load_state
from tests.support.exports import ONEROSTER_RULE, Env, environment
from tests.support.oneroster import bulk, delta, write_bundle


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> Iterator[Env]:
    options = {"path": "bundles", "timezone": "Europe/London", "settle_seconds": 0, "access": ONEROSTER_RULE}
    # A school of five: one leaver is a fifth of it, past the default 10% drop guard.
    guards = {"default": {"max_drop_share": 0.5}}
    made = environment(
        tmp_path, db_url, [{"name": "roster", "type": "oneroster", "guards": guards, "options": options}]
    )
    yield made
    made.close()


def _published(env: Env) -> int | None:
    with env.app.cache.engine.connect() as conn:
        state = load_state(conn, "roster")
    return None if state is None else state.published_run


def test_a_delta_changes_only_what_it_names_and_tobedeleted_deletes(env: Env, tmp_path: Path) -> None:
    write_bundle(tmp_path / "bundles" / "2025-12-01-bulk", bulk(), as_zip=True)
    first = env.sync("roster")
    assert first.status == "published", first
    assert first.counts["student"]["added"] == 5 and first.counts["link"]["added"] == 9
    changes = delta()
    write_bundle(tmp_path / "bundles" / "2025-12-05-delta", changes, delta=tuple(changes), as_zip=True)
    second = env.sync("roster")
    assert second.status == "published", second
    c = second.counts
    assert (c["student"]["deleted"], c["student"]["changed"], c["student"]["unchanged"]) == (1, 0, 4)
    assert c["enrollment"]["deleted"] == 3  # the leaver's enrolments, tobedeleted in the delta
    # res-010 added, res-002 re-graded; res-009 tobedeleted, and the leaver's other result goes
    # with them (a result of a student no longer published cannot stay).
    assert (c["result"]["added"], c["result"]["changed"], c["result"]["deleted"]) == (1, 1, 2)
    assert (c["contact"]["added"], c["contact"]["changed"]) == (1, 1)  # p-2007 arrives, p-2001's email
    # absent files change nothing: classes, courses, line items stay as they were
    assert c["section"] == {"added": 0, "changed": 0, "unchanged": 4, "deleted": 0, "rejected": 0}
    assert c["assignment"]["unchanged"] == 3 and c["assignment"]["deleted"] == 0
    # the leaver's links go with them; Daniel Hale's stays, now refused (disabled); Aisha's arrives
    assert (c["link"]["deleted"], c["link"]["changed"], c["link"]["added"]) == (3, 1, 1)


def test_the_parents_the_rule_entitles_see_exactly_their_children_before_and_after_a_delta(
    env: Env, tmp_path: Path
) -> None:
    write_bundle(tmp_path / "bundles" / "2025-12-01-bulk", bulk())
    assert env.sync("roster").status == "published"
    ref = lambda sid: env.ref("roster", "student", sid)  # noqa: E731
    expected = {
        "p-2001": {ref("s-1001"), ref("s-1005")},
        "p-2002": {ref("s-1001")},
        "p-2003": {ref("s-1002"), ref("s-1003")},
        "p-2004": {ref("s-1003")},
        "t-3002": {ref("s-1004")},
    }
    for contact, children in expected.items():
        headers = env.guardian("roster", contact)
        assert headers is not None, contact
        assert env.visible(headers) == children, contact
    for refused in ("p-2005", "p-2006"):  # a relative; a parent disabled in the SIS: no account at all
        assert env.guardian("roster", refused) is None
    changes = delta()
    write_bundle(tmp_path / "bundles" / "2025-12-05-delta", changes, delta=tuple(changes))
    assert env.sync("roster").status == "published"
    assert env.visible(env.guardian("roster", "p-2002") or {}) == set()  # disabled by the delta
    assert env.visible(env.guardian("roster", "p-2007") or {}) == {ref("s-1002")}
    t3002 = env.guardian("roster", "t-3002") or {}
    assert env.visible(t3002) == set()  # the child left
    gone = env.client.get(f"/v1/students/{ref('s-1004')}", headers=t3002)
    never = env.client.get(f"/v1/students/{'A' * 22}", headers=t3002)
    assert gone.status_code == never.status_code == 404 and gone.content == never.content


def test_a_delta_without_its_bulk_base_holds_the_run_and_nothing_changes(env: Env, tmp_path: Path) -> None:
    write_bundle(tmp_path / "bundles" / "2025-12-01-bulk", bulk())
    assert env.sync("roster").status == "published"
    good = _published(env)
    # The bulk bundle is removed and only a delta is left: it cannot be applied to anything.
    import shutil

    shutil.rmtree(tmp_path / "bundles" / "2025-12-01-bulk")
    changes = delta()
    write_bundle(tmp_path / "bundles" / "2025-12-05-delta", changes, delta=tuple(changes))
    out = env.sync("roster")
    assert out.status == "held"
    assert "holds a delta but no bundle holds the bulk file" in out.hold_reasons[0]
    assert _published(env) == good


def test_a_delta_row_older_than_the_row_held_is_ignored(env: Env, tmp_path: Path) -> None:
    write_bundle(tmp_path / "bundles" / "a-bulk", bulk())
    newer = {"users": [u for u in delta()["users"] if u["sourcedId"] == "p-2002"]}  # disabled, 2025-12-05
    write_bundle(tmp_path / "bundles" / "b-delta", newer, delta=("users",))
    older = {
        "users": [
            {**newer["users"][0], "enabledUser": "true", "dateLastModified": "2025-12-01T00:00:00.000Z"}
        ]
    }
    write_bundle(tmp_path / "bundles" / "c-delta", older, delta=("users",))  # replayed out of order
    assert env.sync("roster").status == "published"
    assert env.guardian("roster", "p-2002") is None  # still disabled: the older change lost


def test_a_file_absent_from_every_bundle_is_empty_unless_rostering_needs_it(env: Env, tmp_path: Path) -> None:
    files = bulk()
    for f in ("lineItems", "results", "categories"):
        files.pop(f)
    write_bundle(tmp_path / "bundles" / "a", files)
    out = env.sync("roster")
    assert out.status == "published", out  # no gradebook exported: none published, no error
    assert out.counts.get("assignment", {}).get("added", 0) == 0 and out.counts["student"]["added"] == 5
    good = _published(env)
    (tmp_path / "bundles" / "a" / "users.csv").unlink()
    manifest = tmp_path / "bundles" / "a" / "manifest.csv"
    manifest.write_text(manifest.read_text().replace("file.users,bulk", "file.users,absent"))
    held = env.sync("roster")
    assert held.status == "held" and "users.csv is absent from every bundle" in held.hold_reasons[0]
    assert _published(env) == good  # the last good roster keeps serving
