"""The synthetic district's awkward cases exist, even in the smallest district, as described."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from connectors.records import Contact, EnrollmentStatus, Student, StudentContact
from simulators.district.synthetic import DistrictSpec, SyntheticDistrict

SPECS = [
    DistrictSpec(seed=7, schools=1, students=20),
    DistrictSpec(seed=7, schools=1, students=20, style="uk"),
    DistrictSpec(seed=5, schools=3, students=150),
    DistrictSpec(seed=5, schools=2, students=13, style="uk", today=dt.date(2027, 3, 1)),
    DistrictSpec(seed=9, schools=1, students=12, today=dt.date(2026, 9, 3)),
]


class View:
    """Lookups over one district's structural records."""

    def __init__(self, spec: DistrictSpec) -> None:
        self.d = SyntheticDistrict(spec)
        self.students = {s.source_id: s for s in self.d.iter("student") if isinstance(s, Student)}
        self.contacts = {c.source_id: c for c in self.d.iter("contact") if isinstance(c, Contact)}
        self.links = {
            (x.student_id, x.contact_id): x for x in self.d.iter("link") if isinstance(x, StudentContact)
        }

    def children(self, contact_id: str) -> list[StudentContact]:
        return [x for (_s, c), x in self.links.items() if c == contact_id]

    def family(self, student_id: str) -> frozenset[str]:
        return frozenset(c for (s, c) in self.links if s == student_id)

    def on_roll(self, student_id: str) -> bool:
        s = self.students[student_id]
        return s.enrollment_status is EnrollmentStatus.ACTIVE and (
            s.exit_date is None or s.exit_date > self.d.today
        )


@pytest.fixture(scope="module", params=SPECS, ids=lambda s: f"{s.style}-{s.students}-{s.today}")
def view(request: pytest.FixtureRequest) -> View:
    return View(request.param)


def full_access(link: StudentContact) -> bool:
    return link.parental_responsibility and link.portal_access and not link.court_order


def test_the_two_child_contact_may_see_two_enrolled_children(view: View) -> None:
    links = view.children(view.d.cases.two_child_contact)
    assert len(links) == 2 and all(full_access(x) for x in links)
    assert all(view.on_roll(x.student_id) for x in links)
    schools = {view.students[x.student_id].school_id for x in links}
    assert len(schools) == min(2, view.d.spec.schools)


def test_a_split_household_has_two_responsible_parents_living_apart(view: View) -> None:
    student, a, b = view.d.cases.split_household
    la, lb = view.links[(student, a)], view.links[(student, b)]
    assert a != b and full_access(la) and full_access(lb)
    assert la.lives_with != lb.lives_with


def test_the_no_responsibility_contact_lacks_only_responsibility(view: View) -> None:
    (link,) = view.children(view.d.cases.no_responsibility_contact)
    assert not link.parental_responsibility and link.portal_access and not link.court_order


def test_the_no_portal_contact_has_responsibility_but_no_portal_access(view: View) -> None:
    (link,) = view.children(view.d.cases.no_portal_contact)
    assert link.parental_responsibility and not link.portal_access and not link.court_order


def test_the_court_order_link_is_restricted_only_by_the_court_order(view: View) -> None:
    link = view.links[view.d.cases.court_order_link]
    assert link.court_order and link.parental_responsibility and link.portal_access


def test_the_leaver_left_before_today_and_the_future_leaver_is_still_on_roll(view: View) -> None:
    leaver = view.students[view.d.cases.leaver]
    assert leaver.exit_date is not None and leaver.entry_date < leaver.exit_date < view.d.today
    assert leaver.enrollment_status is EnrollmentStatus.TRANSFERRED
    staying = view.students[view.d.cases.future_leaver]
    assert staying.exit_date is not None and staying.exit_date > view.d.today
    assert view.on_roll(staying.source_id)


def test_the_leaver_has_no_data_dated_after_leaving(view: View) -> None:
    leaver = view.students[view.d.cases.leaver]
    assert leaver.exit_date is not None
    for mark in view.d.iter("attendance"):
        assert mark.student_id != leaver.source_id or mark.date < leaver.exit_date
    for report in view.d.iter("report"):
        assert report.student_id != leaver.source_id or report.issued_date < leaver.exit_date
    due = {a.source_id: a.due_date for a in view.d.iter("assignment")}
    for result in view.d.iter("result"):
        assert result.student_id != leaver.source_id or due[result.assignment_id] < leaver.exit_date


def _eighteenth(s: Student) -> dt.date:
    dob = s.date_of_birth
    return dob.replace(year=dob.year + 18, day=min(dob.day, 28) if dob.month == 2 else dob.day)


def test_turning_18_and_adult_straddle_the_start_of_the_school_year(view: View) -> None:
    turning = _eighteenth(view.students[view.d.cases.turning_18])
    assert view.d.year_start < turning <= view.d.year_end
    assert _eighteenth(view.students[view.d.cases.adult]) <= view.d.year_start
    assert view.on_roll(view.d.cases.turning_18) and view.on_roll(view.d.cases.adult)


def test_same_name_contacts_are_different_people_in_different_families(view: View) -> None:
    a, b = (view.contacts[c] for c in view.d.cases.same_name_contacts)
    assert a.source_id != b.source_id
    assert (a.first_name, a.last_name) == (b.first_name, b.last_name)
    assert a.email and b.email and a.email != b.email
    kids_a = {x.student_id for x in view.children(a.source_id)}
    kids_b = {x.student_id for x in view.children(b.source_id)}
    assert kids_a and kids_b and not kids_a & kids_b
    assert all(b.source_id not in view.family(k) for k in kids_a)


def test_the_student_login_is_enrolled_and_has_data_of_every_per_student_kind(view: View) -> None:
    student = view.d.cases.student_login
    assert view.on_roll(student)
    for kind in ("link", "enrollment", "report"):
        assert any(r.student_id == student for r in view.d.iter(kind)), kind
    if view.d.days_so_far >= 10:
        for kind in ("attendance", "result", "grade", "behaviour"):
            assert any(r.student_id == student for r in view.d.iter(kind)), kind


def test_every_case_id_is_a_string_naming_an_existing_record(view: View) -> None:
    for name, value in dataclasses.asdict(view.d.cases).items():
        for source_id in value if isinstance(value, tuple) else (value,):
            assert isinstance(source_id, str), name
            assert source_id in view.students or source_id in view.contacts, name


@pytest.mark.parametrize("students,families", [(11, None), (20, 11), (20, 20), (100, 5)])
def test_a_district_too_small_for_the_cases_is_refused(students: int, families: int | None) -> None:
    with pytest.raises(ValueError):
        DistrictSpec(students=students, families=families)


@pytest.mark.parametrize("change", [{"style": "fr"}, {"schools": 0}, {"timezone": "Mars/Olympus"}])
def test_a_spec_with_an_unknown_style_no_schools_or_a_bad_timezone_is_refused(
    change: dict[str, object],
) -> None:
    with pytest.raises(ValueError):
        DistrictSpec(**change)  # type: ignore[arg-type]


def test_a_spec_takes_its_styles_timezone_and_todays_date_from_a_datetime() -> None:
    spec = DistrictSpec(style="uk", today=dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC))
    assert spec.timezone == "Europe/London" and spec.today == dt.date(2026, 11, 24)


def test_families_default_to_about_two_thirds_of_students() -> None:
    spec = DistrictSpec(students=1000)
    assert spec.families == 650
    d = SyntheticDistrict(DistrictSpec(students=200, families=130))
    primaries = {x.contact_id for x in d.iter("link") if isinstance(x, StudentContact) and x.priority == 1}
    assert len(primaries) == 130
