"""Breach report: affected students from the audit log, guardians to notify, drafts, and no trace for parents."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli import main
from gateway.privacy import audit
from gateway.privacy.breach import Window, report
from tests.support.world import World, login, privacy_world


@pytest.fixture
def world(tmp_path: Path, sqlite_url: str):
    w = privacy_world(tmp_path, sqlite_url)
    yield w
    w.cache.dispose()


def window(**kw: str) -> Window:
    now = dt.datetime.now(dt.UTC)
    return Window(now - dt.timedelta(hours=1), now + dt.timedelta(hours=1), **kw)


def test_the_report_names_affected_students_categories_and_guardians_without_court_orders(
    world: World,
) -> None:
    cases = world.district.cases
    kid, mum, dad = cases.split_household
    court_kid, court_parent = cases.court_order_link
    sid, court_sid = world.ref("student", kid), world.ref("student", court_kid)
    with world.api() as c:
        h = login(c, world.users["mum"])
        mum_account = c.get("/v1/me", headers=h).json()["data"]["id"]
        c.get(f"/v1/students/{sid}", headers=h)
        c.get(f"/v1/students/{sid}/attendance", headers=h)
        c.get(f"/v1/students/{court_sid}", headers=h)  # denied: not hers, so not a disclosure
    with world.cache.engine.begin() as conn:
        audit.append(conn, [audit.Entry("operator", "cli:eve", "grades", "allowed", "sis", court_sid)])
    e, k = world.cache.engine, world.cache.keyring

    by_account = report(e, k, window(account=mum_account), operator="cli:dpo")
    assert [a.ref for a in by_account.students] == [sid]
    only = by_account.students[0]
    assert set(only.categories) == {"profile", "attendance"}
    assert only.student["source_id"] == kid
    guardians = {g["ref"]: g for g in only.guardians}
    assert set(guardians) == {world.ref("contact", mum), world.ref("contact", dad)}
    assert all(g["email"] for g in guardians.values())

    everyone = report(e, k, window(), operator="cli:dpo")
    assert {a.ref for a in everyone.students} == {sid, court_sid}
    court = next(a for a in everyone.students if a.ref == court_sid)
    assert world.ref("contact", court_parent) not in {g["ref"] for g in court.guardians}
    assert court.guardians  # the other parent is told

    assert report(e, k, window(address="203.0.113.9"), operator="cli:dpo").students == []
    assert len(report(e, k, window(address="testclient"), operator="cli:dpo").students) == 1
    past = Window(dt.datetime(2020, 1, 1, tzinfo=dt.UTC), dt.datetime(2020, 1, 2, tzinfo=dt.UTC))
    assert report(e, k, past, operator="cli:dpo").students == []


def test_the_breach_command_writes_private_drafts_and_parents_never_see_the_investigation(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    kid, mum, dad = world.district.cases.split_household
    sid = world.ref("student", kid)
    with world.api() as c:
        h = login(c, world.users["dad"])
        c.get(f"/v1/students/{sid}/attendance", headers=h)
        monkeypatch.setattr("connectors.registry.validate_connectors", lambda loaded: [])
        cfg = world.config_yaml()
        out = world.tmp / "incident-1"
        now = dt.datetime.now(dt.UTC)
        r = CliRunner().invoke(
            main,
            [
                "--config", str(cfg), "breach", "report",
                "--from", (now - dt.timedelta(hours=1)).isoformat(),
                "--to", (now + dt.timedelta(hours=1)).isoformat(),
                "--out", str(out),
            ],
        )  # fmt: skip
        assert r.exit_code == 0, r.output
        assert "1 students affected" in r.output and "2 families" in r.output
        log = c.get(f"/v1/students/{sid}/access-log", headers=login(c, world.users["mum"])).text
    assert "breach" not in log and "investigate" not in log and "cli:" not in log
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == sorted(
        [
            "summary.txt",
            "affected.csv",
            f"families/{world.ref('contact', mum)}.txt",
            f"families/{world.ref('contact', dad)}.txt",
        ]
    )
    for p in out.rglob("*.*"):
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    student = world.district.get("student", kid)
    assert student is not None
    draft = (out / "families" / f"{world.ref('contact', mum)}.txt").read_text()
    assert (student.preferred_first_name or student.legal_first_name) in draft and "attendance" in draft
    summary = (out / "summary.txt").read_text()
    assert "Students affected: 1" in summary and student.legal_last_name not in summary
