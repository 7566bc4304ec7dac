"""Real school exports pointed at with YAML alone, through sync, provisioning and the real API:
the parents the district's rule entitles see exactly their children, one record per child
even when rosters and attendance come from two exports."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from cache.snapshots.runs import load_state
from gateway.access import sessions
from gateway.api.app import create_app
from gateway.privacy.purge import purge_students
from tests.support.exports import (
    ARBOR_ATTENDANCE,
    ARBOR_SOURCE,
    ONEROSTER_RULE,
    PARENTMAIL_RECORDS,
    PARENTMAIL_RULE,
    PARENTMAIL_SOURCE,
    Env,
    environment,
    uk_folder,
)
from tests.support.oneroster import bulk, write_bundle

SCHOOL = {
    "school_id": "9994001",
    "school_name": "Hollybrook Academy",
    "settle_seconds": 0,
    "timezone": "Europe/London",
}
WIDE = {"from": "2024-07-01", "to": "2025-11-30"}


@pytest.fixture
def one_export(tmp_path: Path, db_url: str) -> Iterator[Env]:
    """A ParentMail contact list and Arbor's attendance in one folder, one connector."""
    uk_folder(tmp_path / "export", "parentmail-student-import.csv", "arbor-attendance.csv")
    options = {
        "path": "export", **SCHOOL, "sources": {"pm": PARENTMAIL_SOURCE, "arbor": ARBOR_SOURCE},
        "records": {**PARENTMAIL_RECORDS, "attendance": ARBOR_ATTENDANCE}, "access": PARENTMAIL_RULE,
    }  # fmt: skip
    env = environment(tmp_path, db_url, [{"name": "hollybrook", "type": "cloudschool", "options": options}])
    yield env
    env.close()


def _two_exports(tmp_path: Path, url: str) -> Env:
    """Rosters from a OneRoster bundle; attendance from Arbor's export, attached to the same children."""
    write_bundle(tmp_path / "oneroster" / "2025-12-01-bulk", bulk(), as_zip=True)
    uk_folder(tmp_path / "arbor", "arbor-attendance.csv")
    roster = {"path": "oneroster", "timezone": "Europe/London", "settle_seconds": 0,
              "student_id": "userIds:ArborStudentId", "access": ONEROSTER_RULE}  # fmt: skip
    arbor = {
        "path": "arbor",
        **SCHOOL,
        "sources": {"arbor": ARBOR_SOURCE},
        "records": {"attendance": ARBOR_ATTENDANCE},
    }
    return environment(
        tmp_path,
        url,
        [
            {"name": "roster", "type": "oneroster", "options": roster},
            {"name": "arbor", "type": "cloudschool", "students_of": "roster", "options": arbor},
        ],
    )


@pytest.fixture
def two_exports(tmp_path: Path, db_url: str) -> Iterator[Env]:
    env = _two_exports(tmp_path, db_url)
    yield env
    env.close()


@pytest.fixture
def two_exports_pg(tmp_path: Path, pg_url: str) -> Iterator[Env]:
    """:func:`two_exports` on PostgreSQL only (the serving loop's reads are PostgreSQL's)."""
    env = _two_exports(tmp_path, pg_url)
    yield env
    env.close()


def _attendance(env: Env, student: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    r = env.client.get(f"/v1/students/{student}/attendance", params={**WIDE, "limit": 500}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


def test_a_parentmail_list_and_arbor_attendance_give_each_entitled_parent_exactly_their_children(
    one_export: Env,
) -> None:
    env = one_export
    assert env.sync("hollybrook").status == "published"
    ref = lambda sid: env.ref("hollybrook", "student", sid)  # noqa: E731
    expected = {
        "5001": {ref("1201"), ref("1205")},
        "5003": {ref("1202")},
        "5004": {ref("1203")},
        "5008": {ref("1204")},
    }
    for contact, children in expected.items():
        assert env.visible(env.guardian("hollybrook", contact) or {}) == children, contact
    for refused in ("5002", "5005", "5006"):  # second contacts and a grandmother: the rule refuses
        assert env.guardian("hollybrook", refused) is None
    marks = _attendance(env, ref("1203"), env.guardian("hollybrook", "5004") or {})
    trip = next(m for m in marks if m["code"] == "K")
    assert (trip["category"], trip["meaning"]) == (
        "approved_educational_activity",
        "Attending education arranged by the local authority",
    )


def test_rosters_from_oneroster_and_attendance_from_arbor_land_on_one_child(two_exports: Env) -> None:
    env = two_exports
    assert env.sync("roster").status == "published"
    arbor = env.sync("arbor")
    assert arbor.status == "published" and arbor.counts["attendance"]["added"] == 67
    # The OneRoster students are keyed by their Arbor id ({ArborStudentId:...} in userIds).
    amira, zara = env.ref("roster", "student", "1201"), env.ref("roster", "student", "1205")
    ngozi = env.guardian("roster", "p-2001") or {}
    assert env.visible(ngozi) == {amira, zara}  # one record per child, not one per export
    marks = _attendance(env, amira, ngozi)
    assert {m["code"] for m in marks} >= {"/", "\\", "L", "M", "#", "H"}
    withdrawn = next(m for m in marks if m["code"] == "H")
    assert "no longer used" in withdrawn["note"]
    summary = env.client.get(f"/v1/students/{amira}/attendance/summary", params=WIDE, headers=ngozi).json()[
        "data"
    ]
    assert summary["by_category"]["approved_educational_activity"]["count"] == 0
    assert summary["sessions"] == len(marks) and summary["possible_sessions"] == len(marks) - 2  # '#' twice
    # The roster source's own data routes still answer: grades come from the bundle.
    items = env.client.get(
        f"/v1/students/{amira}/assignments", params={"from": "2025-09-01", "to": "2025-12-31"}, headers=ngozi
    )
    assert {a["title"] for a in items.json()["data"]} == {
        "Fractions practice",
        "Persuasive letter",
        "Algebra unit test",
    }
    # Not yours: the same 404 as a child who does not exist, for the attached records too.
    marta = env.guardian("roster", "p-2003") or {}
    theirs = env.client.get(f"/v1/students/{amira}/attendance", params=WIDE, headers=marta)
    nobody = env.client.get(f"/v1/students/{'B' * 22}/attendance", params=WIDE, headers=marta)
    assert theirs.status_code == nobody.status_code == 404 and theirs.content == nobody.content
    export = env.client.get(f"/v1/students/{amira}/export", headers=ngozi).json()["data"]
    assert len(export["records"]["attendance"]) == len(marks)


def test_a_source_attached_to_another_publishes_no_people_of_its_own(
    two_exports: Env, tmp_path: Path
) -> None:
    env = two_exports
    uk_folder(tmp_path / "arbor", "parentmail-student-import.csv")
    cs = env.config.connector("arbor")
    options = {**cs.options, "sources": {**cs.options["sources"], "pm": PARENTMAIL_SOURCE},
               "records": {**cs.options["records"], **PARENTMAIL_RECORDS}, "access": PARENTMAIL_RULE}  # fmt: skip
    env.app.config = env.config.model_copy(
        update={"connectors": [env.config.connector("roster"), cs.model_copy(update={"options": options})]}
    )
    assert env.sync("roster").status == "published"
    out = env.sync("arbor")
    assert out.status == "published"
    assert out.counts["student"]["rejected"] == 5 and out.counts["link"]["rejected"] == 9
    with env.app.cache.engine.connect() as conn:
        kinds = {k for (k,) in conn.execute(text("SELECT DISTINCT kind FROM record WHERE source = 'arbor'"))}
    assert kinds == {"school", "attendance"}


def test_purging_a_child_removes_their_records_from_every_source_and_keeps_them_out(two_exports: Env) -> None:
    env = two_exports
    assert env.sync("roster").status == "published" and env.sync("arbor").status == "published"
    amira = env.ref("roster", "student", "1201")
    cache = env.app.cache
    purge_students(
        cache.engine, cache.keyring, "roster", [amira], reason_code="deletion-request", operator="test"
    )
    count = "SELECT count(*) FROM record WHERE student_ref = :r"
    with cache.engine.connect() as conn:
        assert conn.execute(text(count), {"r": amira}).scalar() == 0
    again = env.sync("arbor")  # the attendance export still has her rows
    assert again.status == "published"
    with cache.engine.connect() as conn:
        assert conn.execute(text(count), {"r": amira}).scalar() == 0
        state = load_state(conn, "arbor")
    assert state is not None and state.published_run is not None


def test_with_an_attached_source_the_data_routes_are_served_on_the_loop_as_on_a_worker_thread(
    two_exports_pg: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL a parent data request awaits its reads on the serving loop, the attached
    source's published run among them (``Reader.afeeds``): the same answers as a worker
    thread's, and once the snapshot's shared records are known none is handed over. No
    route plans a first read of records here (``FirstRead``): it would not know the
    attached source's run, and would be read for nothing."""
    env = two_exports_pg
    assert env.sync("roster").status == "published" and env.sync("arbor").status == "published"
    amira = env.ref("roster", "student", "1201")
    ngozi = env.guardian("roster", "p-2001") or {}
    paths = [
        f"/v1/students/{amira}/attendance?from={WIDE['from']}&to={WIDE['to']}&limit=500",
        f"/v1/students/{amira}/attendance/summary?from={WIDE['from']}&to={WIDE['to']}",
        f"/v1/students/{amira}/grades",
        # The other parent data routes on the loop: the student list and profile (their
        # handles carry the attached source's run), reports, assignments, notices.
        "/v1/students",
        f"/v1/students/{amira}",
        f"/v1/students/{amira}/reports",
        f"/v1/students/{amira}/assignments",
        "/v1/notices",
    ]
    app = create_app(env.config, env.app.cache)

    async def get_all() -> list[tuple[int, bytes]]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://portico.test") as c:
            return [((r := await c.get(p, headers=ngozi)).status_code, r.content) for p in paths]

    async def on_loop() -> tuple[list[tuple[int, bytes]], int]:
        async with app.router.lifespan_context(app):
            reads = app.state.portico.loop_reads
            await get_all()
            before = reads.handed_over
            answers = await get_all()
            return answers, reads.handed_over - before

    real, planned = sessions._with_first, []

    def spied(sql: str, columns: tuple[str, ...], order: str | None) -> str:
        planned.append(sql)
        return real(sql, columns, order)

    monkeypatch.setattr(sessions, "_with_first", spied)
    on_workers = asyncio.run(get_all())
    answers, handed = asyncio.run(on_loop())
    assert answers == on_workers and {s for s, _ in answers} == {200}
    assert len(json.loads(answers[0][1])["data"]) > 10  # the attached source's marks
    assert handed == 0
    assert planned == []
