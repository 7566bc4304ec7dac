"""Each rule of the access policy (docs/access.md), against the synthetic district."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from cache.read.reader import Reader
from cache.snapshots.runs import load_state
from gateway.access import accounts, holds, provision, sessions
from gateway.api.deps import principal_of
from gateway.api.routes.me import UNAVAILABLE
from tests.support.world import World, build_world, cheap_hashing


@pytest.fixture(autouse=True)
def _cheap(monkeypatch: pytest.MonkeyPatch) -> None:
    cheap_hashing(monkeypatch)


@pytest.fixture
def s(tmp_path: Path, db_url: str) -> Iterator[World]:
    served = build_world(tmp_path, db_url)
    yield served
    served.close()


def guardians_of(s: World, student_id: str) -> list[str]:
    return [ln.contact_id for ln in s.district.iter("link") if ln.student_id == student_id]  # type: ignore[union-attr]


def test_only_contacts_with_responsibility_and_portal_access_to_an_enrolled_student_get_accounts(
    s: World,
) -> None:
    c = s.district.cases
    for cid in (c.no_responsibility_contact, c.no_portal_contact, c.court_order_link[1]):
        assert s.account_of("guardian", cid) is None
    leaver_only = [g for g in guardians_of(s, c.leaver)]
    assert leaver_only and all(s.account_of("guardian", g) is None for g in leaver_only)
    assert s.account_of("guardian", c.split_household[2]) is not None  # lives apart, still entitled
    assert s.account_of("student", c.leaver) is None and s.account_of("student", c.student_login) is not None


def test_one_account_per_person_however_many_children_and_never_merged_on_names(s: World) -> None:
    c = s.district.cases
    mum = s.ensure_account("guardian", c.two_child_contact)
    kids = {ln.student_id for ln in s.district.iter("link") if ln.contact_id == c.two_child_contact}  # type: ignore[union-attr]
    assert len(kids) == 2 and s.visible(mum.id) == {s.ref("student", k) for k in kids}
    a, b = (s.account_of("guardian", x) for x in c.same_name_contacts)
    assert a is not None and b is not None and a.id != b.id
    again = provision.provision(s.cache, s.cache.config, "sis", today=s.clock().date())
    assert (again.guardians_created, again.students_created) == (0, 0)


def test_a_contact_hold_revokes_at_once_survives_later_syncs_and_release_restores(s: World) -> None:
    kid, _, apart = s.district.cases.split_household
    account = s.ensure_account("guardian", apart)
    h = s.headers(account.id)
    assert s.get("/v1/students", h).status_code == 200
    s.hold("contact", apart, "court-order", "order")
    assert s.get("/v1/students", h).status_code == 401  # every session died with the revocation
    s.sync()
    assert s.visible(account.id) == set()
    me = s.get("/v1/me", s.headers(account.id)).json()["data"]
    assert me["students"] == [] and me["notice"] == UNAVAILABLE
    assert "court" not in str(me).lower() and "order" not in str(me).lower()
    with s.cache.engine.begin() as conn:
        assert (
            holds.release(
                conn, source="sis", subject="contact", ref=s.ref("contact", apart), kind=None, by="t"
            )
            == 1
        )
    assert s.visible(account.id) == {s.ref("student", kid)}


def test_a_child_protection_hold_removes_every_guardian_but_not_the_student_or_siblings(s: World) -> None:
    c = s.district.cases
    kids = sorted({ln.student_id for ln in s.district.iter("link") if ln.contact_id == c.two_child_contact})  # type: ignore[union-attr]
    protected, sibling = kids
    parents = [s.ensure_account("guardian", g) for g in guardians_of(s, protected)]
    assert len(parents) == 2
    s.hold("student", protected, "child-protection", "referral")
    for p in parents:
        h = s.headers(p.id)
        assert s.visible(p.id) == {s.ref("student", sibling)}
        gone = s.get(f"/v1/students/{s.ref('student', protected)}/attendance", h)
        nowhere = s.get("/v1/students/AAAAAAAAAAAAAAAAAAAAAA/attendance", h)
        assert (
            (gone.status_code, gone.content)
            == (nowhere.status_code, nowhere.content)
            == (404, nowhere.content)
        )
    own = s.ensure_account("student", protected)
    assert s.visible(own.id) == {s.ref("student", protected)}


def test_holds_refuse_kinds_that_do_not_fit_the_subject(s: World) -> None:
    with s.cache.engine.begin() as conn, pytest.raises(ValueError):
        holds.place(
            conn,
            s.cache.keyring,
            source="sis",
            subject="contact",
            ref="x",
            kind="child-protection",
            reason="r",
            by="t",
        )


def test_an_adult_students_written_request_ends_parent_access_at_once(s: World) -> None:
    c = s.district.cases
    father = s.ensure_account("guardian", guardians_of(s, c.turning_18)[0])
    assert s.ref("student", c.turning_18) in s.visible(father.id)
    s.hold("student", c.turning_18, "student-request", "letter")
    assert s.ref("student", c.turning_18) not in s.visible(father.id)


def test_parent_access_to_an_18_year_old_ends_after_30_june_of_that_school_year(s: World) -> None:
    c = s.district.cases
    father = s.ensure_account("guardian", guardians_of(s, c.turning_18)[0])
    ref = s.ref("student", c.turning_18)
    dob = next(st.date_of_birth for st in s.district.iter("student") if st.source_id == c.turning_18)  # type: ignore[union-attr]
    turns_18 = dob.replace(year=dob.year + 18)
    assert s.district.year_start < turns_18 < s.district.year_end
    s.clock.move_to(turns_18 + dt.timedelta(days=1))
    assert ref in s.visible(father.id)
    s.clock.move_to(dt.date(s.district.year_end.year, 6, 30))
    assert ref in s.visible(father.id)
    s.clock.move_to(dt.date(s.district.year_end.year, 7, 1))
    assert ref not in s.visible(father.id)


def test_students_see_only_their_own_records(s: World) -> None:
    c = s.district.cases
    me = s.ensure_account("student", c.student_login)
    h = s.headers(me.id)
    assert s.visible(me.id) == {s.ref("student", c.student_login)}
    other = next(st.source_id for st in s.district.iter("student") if st.source_id != c.student_login)
    assert s.get(f"/v1/students/{s.ref('student', other)}/grades", h).status_code == 404
    assert s.get(f"/v1/students/{s.ref('student', c.student_login)}/grades", h).status_code == 200


def test_data_routes_answer_403_until_the_current_aup_version_is_accepted_and_record_when(s: World) -> None:
    account = s.ensure_account("guardian", s.district.cases.two_child_contact)
    with s.cache.engine.begin() as conn:
        from gateway.access import accounts

        accounts.set_fields(conn, account.id, aup_version="0", aup_accepted_at=None)
    h = s.headers(account.id)
    for path in ("/v1/students", "/v1/notices"):
        r = s.get(path, h)
        assert r.status_code == 403 and r.json()["type"] == "aup-not-accepted"
    me = s.get("/v1/me", h).json()["data"]
    assert me["aup"]["accepted"] is False and me["students"] == [] and me["notice"] is None
    assert s.client.post("/v1/me/aup", json={"version": "0"}, headers=h).status_code == 400
    assert s.client.post("/v1/me/aup", json={"version": "1"}, headers=h).status_code == 204
    me = s.get("/v1/me", h).json()["data"]
    assert me["aup"]["accepted"] and me["aup"]["accepted_at"].startswith("2026-11-24")
    assert s.get("/v1/students", h).status_code == 200


def test_grades_stay_hidden_for_the_configured_lag(s: World) -> None:
    c = s.district.cases
    account = s.ensure_account("student", c.student_login)
    h = s.headers(account.id)
    path = f"/v1/students/{s.ref('student', c.student_login)}/grades"
    latest = max(g.updated_at for g in s.district.iter("grade") if g.student_id == c.student_login)  # type: ignore[union-attr]
    s.clock.at = latest + dt.timedelta(hours=23)
    before = {g["updated_at"] for g in s.get(path, h).json()["data"]}
    s.clock.at = latest + dt.timedelta(hours=24, minutes=1)
    body = s.get(path, h).json()
    after = {g["updated_at"] for g in body["data"]}
    assert latest.isoformat() not in before and latest.isoformat() in after and body["meta"]["lag"] == "P1D"


def test_a_parent_never_sees_more_than_an_unlinked_student_profile_would_allow(s: World) -> None:
    """Profiles are allow-listed: no date of birth, email or SIS id reaches a parent."""
    c = s.district.cases
    account = s.ensure_account("guardian", c.two_child_contact)
    h = s.headers(account.id)
    sid = next(iter(s.visible(account.id)))
    body = s.get(f"/v1/students/{sid}", h).text
    st = next(x for x in s.district.iter("student") if s.ref("student", x.source_id) == sid)
    assert dataclasses.asdict(st)["date_of_birth"].isoformat() not in body
    assert st.source_id not in body and (st.email or "@@") not in body


@pytest.mark.parametrize(
    ("policy", "last_day"),
    [("june-30", dt.date(2027, 6, 30)), ("continues", None)],
)
def test_the_coming_of_age_rule_is_configurable_per_district(policy: str, last_day: dt.date | None) -> None:
    from cache.snapshots.encode import adult_cutoff

    assert adult_cutoff(policy, 18)(dt.date(2008, 12, 4)) == last_day


def test_a_link_without_responsibility_or_portal_access_or_under_a_court_order_shows_nothing(
    s: World,
) -> None:
    """Even with an account (made by hand here), such a contact sees no student at all."""
    c = s.district.cases
    for cid in (c.no_responsibility_contact, c.no_portal_contact, c.court_order_link[1]):
        account = s.ensure_account("guardian", cid)
        assert s.visible(account.id) == set()
        for sid in guardians_of_contact(s, cid):
            r = s.get(f"/v1/students/{s.ref('student', sid)}/attendance", s.headers(account.id))
            assert r.status_code == 404


def guardians_of_contact(s: World, contact_id: str) -> list[str]:
    return [ln.student_id for ln in s.district.iter("link") if ln.contact_id == contact_id]  # type: ignore[union-attr]


def test_the_one_child_check_answers_as_the_list_of_children_for_every_guardian_and_child(s: World) -> None:
    """The check for one child (a live link found by ``EXISTS``: the session's statement,
    a page about one child) admits exactly the children the guardian's list shows, under
    holds, court orders, the coming-of-age rule and leavers alike."""
    c = s.district.cases
    s.hold("student", c.turning_18, "student-request", "letter")
    s.hold("contact", c.split_household[2], "court-order", "order")
    students = [s.ref("student", st.source_id) for st in s.district.iter("student")]  # type: ignore[union-attr]
    today = s.clock().date()
    access = s.cache.config.access
    compared = seen = 0
    with s.cache.engine.begin() as conn:
        ids = [
            r[0] for r in conn.exec_driver_sql("SELECT id FROM account WHERE role = 'guardian' ORDER BY id")
        ]
        tokens = []
        for account_id in ids:
            accounts.set_fields(conn, account_id, status="active")
            tokens.append(sessions.create(conn, account_id, access)[0])
    with s.cache.engine.connect() as conn:
        state = load_state(conn, "sis")
        assert state is not None and state.published_run is not None
        run = state.published_run
        for token in tokens:
            me = sessions.resolve_with_state(conn, token, access)
            assert me is not None
            principal = principal_of(me.account)
            listed = {h.ref for h in Reader(conn, s.cache.keyring).students(principal, run, today)}
            for ref in students:
                one = Reader(conn, s.cache.keyring).student(principal, run, today, ref)
                found = sessions.resolve_with_state(conn, token, access, ref, today)
                assert found is not None
                assert (one is not None) == (found.student is not None) == (ref in listed), (
                    me.account.id,
                    ref,
                )
                compared += 1
                seen += one is not None
    # Every guardian against every child; most see one child or two, the held ones none.
    assert compared == len(ids) * len(students) > 100 and seen >= len(ids)
