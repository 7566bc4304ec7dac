"""Every principal of the synthetic district × every student × every data route: zero leaks.

The expected visibility comes from an oracle written here from the policy table,
straight from the canonical records (not from Portico's SQL): a guardian sees a
student only through a link with responsibility and portal access and no court
order, while the student is on roll, until 30 June of the school year they turn 18,
and while neither side is held; a student sees only themself. Every denied request
must be byte-identical to the 404 for a student that does not exist.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors import records as r
from gateway.access import family
from tests.support.world import STUDENT_ROUTES, World, build_world

NOWHERE = "AAAAAAAAAAAAAAAAAAAAAA"


def eighteen_cutoff(dob: dt.date) -> dt.date:
    """30 June of the school year (July..June) in which the student turns 18."""
    year = dob.year + 18
    birthday = dt.date(year, dob.month, 28) if (dob.month, dob.day) == (2, 29) else dob.replace(year=year)
    return dt.date(birthday.year + (1 if birthday.month >= 7 else 0), 6, 30)


class Oracle:
    def __init__(self, s: World) -> None:
        d = s.district
        self.students = {st.source_id: st for st in d.iter("student")}
        self.links = list(d.iter("link"))
        self.held_contacts: set[str] = set()
        self.held_students: set[str] = set()

    def on_roll(self, sid: str, day: dt.date) -> bool:
        st = self.students[sid]
        return st.entry_date <= day and (st.exit_date is None or st.exit_date > day)

    def guardian_sees(self, cid: str, day: dt.date) -> set[str]:
        if cid in self.held_contacts:
            return set()
        return {
            ln.student_id
            for ln in self.links
            if ln.contact_id == cid
            and ln.parental_responsibility
            and ln.portal_access
            and not ln.court_order
            and self.on_roll(ln.student_id, day)
            and day <= eighteen_cutoff(self.students[ln.student_id].date_of_birth)
            and ln.student_id not in self.held_students
        }

    def student_sees(self, sid: str, day: dt.date) -> set[str]:
        return {sid} if self.on_roll(sid, day) else set()


def owned_refs(s: World) -> dict[tuple[str, str], set[str]]:
    """(student source id, kind) → the public ids of that student's records."""
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    d = s.district
    for kind in ("attendance", "grade", "behaviour", "report"):
        for rec in d.iter(kind):
            out[(rec.student_id, kind)].add(s.ref(kind, rec.source_id))  # type: ignore[union-attr]
    for e in d.iter("enrollment"):
        out[(e.student_id, "section")].add(s.ref("section", e.section_id))  # type: ignore[union-attr]
    return out


def notice_audiences(s: World, visible: set[str], day: dt.date) -> dict[str, bool]:
    """Notice public id → whether it is addressed to one of the ``visible`` students."""
    d = s.district
    schools = {st.school_id for st in d.iter("student") if st.source_id in visible}
    years = {(st.school_id, st.grade_level) for st in d.iter("student") if st.source_id in visible}
    sections = {
        e.section_id
        for e in d.iter("enrollment")
        if e.student_id in visible and (e.start_date or day) <= day <= (e.end_date or day)
    }
    out = {}
    for n in d.iter("notice"):
        assert isinstance(n, r.Notice)
        ok = (
            n.audience == r.Audience.DISTRICT
            or (n.audience == r.Audience.SCHOOL and n.school_id in schools)
            or (n.audience == r.Audience.YEAR and (n.school_id, n.year_group) in years)
            or (n.audience == r.Audience.SECTION and n.section_id in sections)
        )
        out[s.ref("notice", n.source_id)] = bool(visible) and ok
    return out


class Matrix:
    def __init__(self, s: World, oracle: Oracle) -> None:
        self.s, self.oracle = s, oracle
        self.owned = owned_refs(s)
        self.requests = 0
        self.leaks: list[str] = []
        self.first_report = {}
        for rep in s.district.iter("report"):
            self.first_report.setdefault(rep.student_id, s.ref("report", rep.source_id))  # type: ignore[union-attr]

    def get(self, path: str, h: dict[str, str]) -> Any:
        self.requests += 1
        return self.s.get(path, h)

    def run(
        self, who: str, account_id: str, expected: set[str], day: dt.date, h: dict[str, str] | None = None
    ) -> None:
        h = h or self.s.headers(account_id)
        absent = self.get(f"/v1/students/{NOWHERE}", h)
        assert absent.status_code == 404
        signature = (
            absent.status_code,
            absent.content,
            absent.headers["content-type"],
            absent.headers["cache-control"],
        )
        listed = self.get("/v1/students", h).json()["data"]
        if {x["id"] for x in listed} != {self.s.ref("student", sid) for sid in expected}:
            self.leaks.append(f"{who}: /v1/students lists the wrong children")
        addressed = notice_audiences(self.s, expected, day)
        for n in self.get("/v1/notices?limit=500", h).json()["data"]:
            if not addressed.get(n["id"]):
                self.leaks.append(f"{who}: notice not addressed to their children")
        for sid in self.oracle.students:
            ref = self.s.ref("student", sid)
            paths = [f"/v1/students/{ref}{p}" for p in STUDENT_ROUTES]
            paths.append(f"/v1/students/{ref}/reports/{self.first_report.get(sid, NOWHERE)}")
            for path in paths:
                resp = self.get(path, h)
                if sid not in expected or (path.endswith(NOWHERE)):
                    got = (
                        resp.status_code,
                        resp.content,
                        resp.headers["content-type"],
                        resp.headers["cache-control"],
                    )
                    if got != signature:
                        self.leaks.append(f"{who}: {path} differs from the uniform 404 ({resp.status_code})")
                    continue
                if resp.status_code != 200 or resp.headers["cache-control"] != "no-store":
                    self.leaks.append(f"{who}: {path} refused a linked student ({resp.status_code})")
                    continue
                self.check_owned(who, sid, path, resp.json()["data"])

    def check_owned(self, who: str, sid: str, path: str, data: Any) -> None:
        kind = {"/attendance": "attendance", "/grades": "grade", "/reports": "report"}.get(
            path[path.rindex("/") :]
        )
        ids: set[str] = set()
        if kind:
            ids = {x["id"] for x in data}
        elif path.endswith("/behaviour"):
            kind, ids = "behaviour", {x["id"] for x in data["events"]}
        elif path.endswith(("/timetable", "/assignments")):
            kind, ids = "section", {x["class"]["id"] for x in data}
        if kind and not ids <= self.owned[(sid, kind)]:
            self.leaks.append(f"{who}: {path} returned another student's {kind}")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp: Path = tmp_path_factory.mktemp("matrix")
    s = build_world(tmp, f"sqlite:///{tmp / 'cache.db'}")
    yield s
    s.close()


@pytest.fixture(scope="module")
def oracle(served: World) -> Oracle:
    """The oracle, with the awkward principals in place: a held contact, and a guardian
    whose child is under a child-protection hold."""
    s, c = served, served.district.cases
    found = Oracle(s)
    held_contact = c.split_household[2]
    protected_child = next(ln.student_id for ln in found.links if ln.contact_id == c.two_child_contact)
    s.hold("contact", held_contact, "court-order", "order 12")
    s.hold("student", protected_child, "child-protection", "referral")
    found.held_contacts.add(held_contact)
    found.held_students.add(protected_child)
    return found


def test_no_principal_sees_a_student_the_policy_does_not_allow_and_every_refusal_is_the_same_404(
    served: World, oracle: Oracle
) -> None:
    s, c = served, served.district.cases
    day = s.clock().date()
    # Contacts the SIS does not entitle get accounts by hand.
    held_contact = c.split_household[2]
    by_hand = [c.no_responsibility_contact, c.no_portal_contact, c.court_order_link[1], held_contact]
    matrix = Matrix(s, oracle)
    contacts = sorted({ln.contact_id for ln in oracle.links})
    principals = 0
    for cid in contacts:
        account = s.account_of("guardian", cid)
        if account is None and cid not in by_hand:
            assert not oracle.guardian_sees(cid, day), f"entitled contact {cid} got no account"
            continue
        account = s.ensure_account("guardian", cid)
        matrix.run(f"guardian {cid}", account.id, oracle.guardian_sees(cid, day), day)
        principals += 1
    for sid in sorted(oracle.students):
        if s.account_of("student", sid) is None:
            assert not oracle.on_roll(sid, day)
            continue
        matrix.run(f"student {sid}", s.ensure_account("student", sid).id, oracle.student_sees(sid, day), day)
        principals += 1
    # Coming of age: the guardian of the student turning 18 on 30 June and on 1 July.
    father = next(ln.contact_id for ln in oracle.links if ln.student_id == c.turning_18)
    father_account = s.ensure_account("guardian", father)
    year_end = eighteen_cutoff(oracle.students[c.turning_18].date_of_birth)
    assert year_end.month == 6 and year_end.day == 30
    for when in (year_end, year_end + dt.timedelta(days=1)):
        s.clock.move_to(when)
        expected = oracle.guardian_sees(father, when)
        assert (c.turning_18 in expected) == (when == year_end)
        matrix.run(f"guardian {father} on {when}", father_account.id, expected, when)
        principals += 1
    s.clock.move_to(day)
    print(
        f"\nauthorization matrix: {principals} principals x {len(oracle.students) + 1} students x {len(STUDENT_ROUTES) + 1} routes; {matrix.requests} requests; {len(matrix.leaks)} leaks"
    )
    assert principals >= 20 and matrix.requests > principals * len(oracle.students) * len(STUDENT_ROUTES)
    assert matrix.leaks == []


def test_a_family_token_naming_every_student_and_kind_sees_only_what_its_account_may(
    served: World, oracle: Oracle
) -> None:
    """A token whose row names every student of the district (written straight into the
    table: no form would make it) answers exactly as its account's session: its students
    are only ever a filter inside the same relationship query, never a grant."""
    s, c = served, served.district.cases
    day = s.clock().date()
    everyone = sorted(s.ref("student", sid) for sid in oracle.students)
    matrix = Matrix(s, oracle)
    principals = 0
    for cid in sorted({ln.contact_id for ln in oracle.links}):
        if s.account_of("guardian", cid) is None and cid not in (c.no_portal_contact, c.split_household[2]):
            continue
        account = s.ensure_account("guardian", cid)
        with s.cache.engine.begin() as conn:
            _, token = family.create_token(
                conn, account.id, everyone, list(family.KINDS), s.clock() + dt.timedelta(days=1), s.clock()
            )
        h = {"Authorization": f"Bearer {token}"}
        matrix.run(f"token of guardian {cid}", account.id, oracle.guardian_sees(cid, day), day, h)
        principals += 1
    print(
        f"\nfamily-token matrix: {principals} tokens; {matrix.requests} requests; {len(matrix.leaks)} leaks"
    )
    assert principals >= 10 and matrix.leaks == []
