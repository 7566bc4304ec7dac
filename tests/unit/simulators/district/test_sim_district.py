"""The synthetic district: determinism, random access, integrity and the awkward cases."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.records import (
    RECORD_TYPES,
    Audience,
    Contact,
    Record,
    StudentContact,
)
from simulators.district.synthetic import KINDS, DistrictSpec, SyntheticDistrict

SMALL = {
    "us": DistrictSpec(seed=7, schools=1, students=20),
    "uk": DistrictSpec(seed=7, schools=1, students=20, style="uk"),
}
TWO_SCHOOLS = {
    "us": DistrictSpec(seed=11, schools=2, students=60),
    "uk": DistrictSpec(seed=11, schools=2, students=60, style="uk"),
}
STYLES = ("us", "uk")


@pytest.fixture(scope="module", params=STYLES)
def district(request: pytest.FixtureRequest) -> SyntheticDistrict:
    return SyntheticDistrict(TWO_SCHOOLS[request.param])


@pytest.fixture(scope="module")
def records(district: SyntheticDistrict) -> dict[str, list[Record]]:
    return {kind: list(district.iter(kind)) for kind in district.kinds()}


def by_id(records: dict[str, list[Record]], kind: str) -> dict[str, Record]:
    return {r.source_id: r for r in records[kind]}


def links_of(records: dict[str, list[Record]]) -> list[StudentContact]:
    return [r for r in records["link"] if isinstance(r, StudentContact)]


# determinism and random access ---------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
def test_the_same_spec_yields_identical_records_of_every_kind(style: str) -> None:
    a, b = SyntheticDistrict(SMALL[style]), SyntheticDistrict(SMALL[style])
    for kind in KINDS:
        assert list(a.iter(kind)) == list(b.iter(kind)), kind
    assert a.cases == b.cases


@pytest.mark.parametrize("style", STYLES)
def test_a_different_seed_yields_different_people_and_marks(style: str) -> None:
    a = SyntheticDistrict(SMALL[style])
    b = SyntheticDistrict(dataclasses.replace(SMALL[style], seed=8))
    for kind in ("student", "contact", "attendance", "result"):
        assert list(a.iter(kind)) != list(b.iter(kind)), kind


def test_kinds_are_every_record_kind_in_dependency_order(district: SyntheticDistrict) -> None:
    assert district.kinds() == KINDS
    assert set(KINDS) == set(RECORD_TYPES)
    assert KINDS.index("student") < KINDS.index("link") < KINDS.index("attendance")


def test_count_is_the_number_of_records_and_each_has_its_kind(
    district: SyntheticDistrict, records: dict[str, list[Record]]
) -> None:
    for kind in KINDS:
        assert district.count(kind) == len(records[kind]) > 0, kind
        assert all(type(r) is RECORD_TYPES[kind] for r in records[kind]), kind


@pytest.mark.parametrize("bounds", [(0, 1), (3, 17), (5, None), (0, 0), (10**9, None), (7, 3)])
def test_a_slice_is_the_same_range_of_the_full_sequence(
    district: SyntheticDistrict, records: dict[str, list[Record]], bounds: tuple[int, int | None]
) -> None:
    start, stop = bounds
    for kind in KINDS:
        assert list(district.iter(kind, start, stop)) == records[kind][start:stop], kind


_SHARED = SyntheticDistrict(SMALL["uk"])
_SHARED_RECORDS = {kind: list(_SHARED.iter(kind)) for kind in KINDS}


@given(data=st.data())
@settings(max_examples=60, deadline=None)
def test_any_slice_of_any_kind_matches_the_full_sequence(data: st.DataObject) -> None:
    district = _SHARED
    kind = data.draw(st.sampled_from(KINDS))
    full = _SHARED_RECORDS[kind]
    start = data.draw(st.integers(0, len(full)))
    stop = data.draw(st.integers(start, len(full)))
    assert list(district.iter(kind, start, stop)) == full[start:stop]


def test_a_deep_slice_of_a_large_attendance_sequence_matches_lookups_by_id() -> None:
    d = SyntheticDistrict(DistrictSpec(seed=3, schools=3, students=3000, today=dt.date(2027, 6, 18)))
    assert d.count("attendance") > 500_100
    marks = list(d.iter("attendance", 500_000, 500_100))
    assert len(marks) == 100
    assert all(d.get("attendance", m.source_id) == m for m in marks)
    keys = [(m.student_id, m.date) for m in marks]
    assert keys == sorted(keys, key=lambda k: (int(k[0]), k[1]))


def test_get_finds_records_by_source_id_and_none_for_unknown_ids(
    district: SyntheticDistrict, records: dict[str, list[Record]]
) -> None:
    for kind in KINDS:
        for r in records[kind]:
            assert district.get(kind, r.source_id) == r, kind
        assert district.get(kind, "no-such-id") is None, kind
    first = records["student"][0].source_id
    assert district.get("attendance", f"{first}-2001-01-01") is None
    assert district.get("attendance", f"{first}-2026-09-05") is None  # a Saturday
    assert district.get("attendance", f"{first}-2026-09-08-XX") is None
    assert district.get("behaviour", f"{first}-B99999") is None
    assert district.get("behaviour", f"{first}-B0") is None
    an_assignment = records["assignment"][0].source_id
    assert district.get("result", f"0{an_assignment}-{first}") is None  # leading zeros matter
    last_term = records["grade"][-1].source_id.rsplit("-", 1)[1]
    assert district.get("grade", f"{first}-no-section-{last_term}") is None


def test_every_record_serialises_with_orjson_as_the_cache_stores_it(records: dict[str, list[Record]]) -> None:
    for kind, rows in records.items():
        for r in rows[:50]:
            assert orjson.loads(orjson.dumps(r))["source_id"] == r.source_id, kind


def test_an_unknown_kind_is_refused(district: SyntheticDistrict) -> None:
    with pytest.raises(KeyError):
        district.count("homework")


# shape and referential integrity -------------------------------------------------


def test_source_ids_are_unique_strings_within_each_kind(records: dict[str, list[Record]]) -> None:
    for kind, rows in records.items():
        ids = [r.source_id for r in rows]
        assert all(isinstance(i, str) and i for i in ids), kind
        assert len(set(ids)) == len(ids), kind


def test_every_reference_names_an_existing_record(records: dict[str, list[Record]]) -> None:
    targets = ("school", "student", "contact", "section", "assignment")
    known = {kind: set(by_id(records, kind)) for kind in targets}
    fields = {
        "school_id": "school",
        "student_id": "student",
        "contact_id": "contact",
        "section_id": "section",
        "assignment_id": "assignment",
    }
    for kind, rows in records.items():
        for r in rows:
            for name, target in fields.items():
                value = getattr(r, name, None)
                if value is not None:
                    assert value in known[target], (kind, name)


def test_ids_follow_the_styles_conventions(
    district: SyntheticDistrict, records: dict[str, list[Record]]
) -> None:
    schools = [r.source_id for r in records["school"]]
    assert schools == ["100", "200"]
    students = [r.source_id for r in records["student"]]
    assert all(s.isdigit() for s in students)
    assert any(s.startswith("0") for s in students) == (district.spec.style == "uk")
    assert all(r.source_id == f"{r.student_id}-{r.contact_id}" for r in links_of(records))


def test_contacts_are_synthetic_and_reachable_only_at_reserved_addresses(
    records: dict[str, list[Record]],
) -> None:
    contacts = [r for r in records["contact"] if isinstance(r, Contact)]
    assert sum(c.email is not None for c in contacts) > 0.8 * len(contacts)
    for c in contacts:
        assert c.email is None or c.email.rsplit("@", 1)[1] in ("example.org", "example.com")
        assert c.phone is not None
        assert c.phone.startswith(("+1-555-01", "+44 7700 900"))
    emails = [c.email for c in contacts if c.email]
    assert len(set(emails)) == len(emails)


def test_every_student_has_one_to_three_contacts_and_siblings_share_them(
    records: dict[str, list[Record]],
) -> None:
    per_student: dict[str, list[str]] = defaultdict(list)
    per_contact: dict[str, set[str]] = defaultdict(set)
    for link in links_of(records):
        per_student[link.student_id].append(link.contact_id)
        per_contact[link.contact_id].add(link.student_id)
    assert set(per_student) == set(by_id(records, "student"))
    assert all(1 <= len(c) <= 3 for c in per_student.values())
    assert any(len(s) >= 2 for s in per_contact.values())
    assert set(per_contact) == set(by_id(records, "contact"))


def test_each_student_takes_six_sections_of_their_own_school(records: dict[str, list[Record]]) -> None:
    students, sections = by_id(records, "student"), by_id(records, "section")
    taken: dict[str, list[str]] = defaultdict(list)
    for e in records["enrollment"]:
        taken[e.student_id].append(e.section_id)
        assert sections[e.section_id].school_id == students[e.student_id].school_id
    assert set(taken) == set(students)
    assert all(len(s) == len(set(s)) == 6 for s in taken.values())


def test_a_students_timetable_has_no_clashes_and_uk_odd_schools_run_a_b_weeks(
    district: SyntheticDistrict, records: dict[str, list[Record]]
) -> None:
    lessons: dict[str, list[tuple[str, int, str]]] = defaultdict(list)
    for t in records["timetable"]:
        lessons[t.section_id].append((t.week_pattern, t.day, t.period))
        assert 1 <= t.day <= 5 and t.start_time < t.end_time
    sections = by_id(records, "section")
    patterns = {(sections[s].school_id, w) for s, entries in lessons.items() for w, _d, _p in entries}
    if district.spec.style == "uk":
        assert patterns == {("100", "every"), ("200", "A"), ("200", "B")}
    else:
        assert {w for _s, w in patterns} == {"every"}
    taken: dict[str, list[str]] = defaultdict(list)
    for e in records["enrollment"]:
        taken[e.student_id].append(e.section_id)
    for sections_of_student in taken.values():
        slots = [slot for s in sections_of_student for slot in lessons[s]]
        assert len(slots) == len(set(slots))


def test_notices_cover_every_audience_with_expired_and_future_ones(
    district: SyntheticDistrict, records: dict[str, list[Record]]
) -> None:
    now = dt.datetime.combine(district.today, dt.time(12), dt.UTC)
    notices = records["notice"]
    assert {n.audience for n in notices} == set(Audience)
    assert any(n.publish_to is not None and n.publish_to < now for n in notices)
    assert any(n.publish_from > now for n in notices)
    for n in notices:
        assert (n.school_id is not None) == (n.audience in (Audience.SCHOOL, Audience.YEAR))
        assert (n.year_group is not None) == (n.audience is Audience.YEAR)
        assert (n.section_id is not None) == (n.audience is Audience.SECTION)


def test_results_and_grades_have_sensible_values(records: dict[str, list[Record]]) -> None:
    assignments = by_id(records, "assignment")
    statuses = {r.status for r in records["result"]}
    assert len(statuses) >= 4
    for r in records["result"]:
        points = assignments[r.assignment_id].points_possible
        assert r.score is None or (points is not None and 0 <= r.score <= points)
    for a in assignments.values():
        assert a.set_date is not None and a.set_date <= a.due_date
    for g in records["grade"]:
        assert g.percent is not None and 0 <= g.percent <= 100 and g.mark
        assert g.updated_at.tzinfo is not None
