"""The connector against real-shape PowerSchool data it was not written beside.

Every response comes from ``tests/support/data/powerschool`` (synthetic values in the shapes
their ``_source`` cites: the data dictionary, the API docs, public clients and their
fixtures). They normalise without set-asides except the ones a district would want.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from config.secrets import SecretResolver
from connectors import records as r
from connectors import registry
from connectors.powerschool import normalize as n
from connectors.powerschool.connector import PowerSchoolConnector
from connectors.powerschool.values import LocalTimes
from tests.support.powerschool import OPTIONS, FixtureServer, load, sources

CHICAGO = ZoneInfo("America/Chicago")


def connect(server: FixtureServer, **options: Any) -> PowerSchoolConnector:
    ctx = registry.BuildContext(
        secrets=SecretResolver(env={"I": "id", "S": "secret"}),
        transport=server.transport(),
        sleep=lambda s: None,
    )
    opts = {
        "base_url": "https://sis.test",
        "client_id": {"env": "I"},
        "client_secret": {"env": "S"},
        **OPTIONS,
    }
    connector = registry.build("powerschool", "sis", {**opts, **options}, ctx)
    assert isinstance(connector, PowerSchoolConnector)
    return connector


def read(c: PowerSchoolConnector, stream: str) -> tuple[dict[str, Any], list[Any]]:
    pages = list(c.read(stream, None))
    return {rec.source_id: rec for p in pages for rec in p.records}, [e for p in pages for e in p.rejected]


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=CHICAGO).astimezone(dt.UTC)


@pytest.fixture
def server() -> FixtureServer:
    return FixtureServer()


def test_every_fixture_cites_the_public_source_of_its_shape() -> None:
    cited = sources()
    assert len(cited) >= 30
    for name, source in cited.items():
        assert any(s in source for s in ("github", "https://", "PyPI")), name


def test_schools_without_zone_or_year_take_the_districts_zone_and_their_year_terms(
    server: FixtureServer,
) -> None:
    schools, rejected = read(connect(server), "schools")
    assert rejected == []
    assert schools["5"] == r.School(source_id="5", name="Maple Ridge Elementary", timezone="America/Chicago",
                                    year_start_date=dt.date(2025, 8, 20), year_end_date=dt.date(2026, 5, 29))  # fmt: skip
    assert (schools["6"].year_start_date, schools["6"].year_end_date) == (
        dt.date(2025, 8, 19),
        dt.date(2026, 5, 28),
    )


def test_a_one_school_district_sent_as_an_object_is_read(server: FixtureServer) -> None:
    server.schools = load("v1_district_school_single_object")
    schools, _ = read(connect(server), "schools")
    assert list(schools) == ["5"]


def test_the_zone_option_wins_over_the_servers(server: FixtureServer) -> None:
    schools, _ = read(connect(server, timezone="America/Denver"), "schools")
    assert schools["5"].timezone == "America/Denver"


def test_students_are_keyed_by_dcid_with_optional_birth_dates_and_any_enrol_status(
    server: FixtureServer,
) -> None:
    students, rejected = read(connect(server), "students")
    assert rejected == []
    # Cy left in 2020 (EXITDATE before this year): not read. Bo's row comes as JSON numbers.
    assert set(students) == {"507", "9913", "510"}
    ada, bo, dee = students["507"], students["9913"], students["510"]
    assert (ada.school_id, ada.date_of_birth, ada.grade_level, ada.homeroom) == (
        "5",
        dt.date(2016, 4, 2),
        "3",
        "Rm 12",
    )
    assert (bo.school_id, bo.date_of_birth, bo.enrollment_status) == ("5", None, r.EnrollmentStatus.ACTIVE)
    assert (dee.school_id, dee.enrollment_status) == ("6", r.EnrollmentStatus.PRE_REGISTERED)


def test_an_imported_historical_student_is_inactive() -> None:
    cy = next(row["tables"]["students"] for row in load("schema_students")["record"] if row["id"] == 508)
    ctx = n.Context(times=LocalTimes("America/Chicago"), zone="America/Chicago")
    ctx.schools.add("6", "120")
    student = n.student(cy, ctx)
    assert isinstance(student, r.Student) and student.enrollment_status is r.EnrollmentStatus.INACTIVE


def test_sections_join_courses_terms_and_the_school_number(server: FixtureServer) -> None:
    sections, rejected = read(connect(server), "sections")
    assert rejected == []
    assert sections["4401"] == r.Section(source_id="4401", school_id="5", course_name="Mathematics 3",
                                         course_code="MA03", teacher_name=None, room="12", term="25-26")  # fmt: skip
    assert (sections["4402"].school_id, sections["4402"].room, sections["4402"].course_name) == (
        "6",
        None,
        "English 7",
    )


def test_the_timetable_is_assembled_from_meetings_cycle_days_the_calendar_and_bell_times(
    server: FixtureServer,
) -> None:
    lessons, rejected = read(connect(server), "timetable")
    assert rejected == []
    assert lessons == {
        "4401-A-1": r.TimetableEntry(
            source_id="4401-A-1", section_id="4401", student_id=None, day=1, period="P1",
            start_time=dt.time(8, 15), end_time=dt.time(9, 5), week_pattern="every",
            start_date=dt.date(2025, 8, 20), end_date=dt.date(2026, 5, 29),
        )
    }  # fmt: skip


def test_attendance_codes_are_rows_and_offset_less_stamps_are_district_time(server: FixtureServer) -> None:
    marks, rejected = read(connect(server), "attendance")
    assert rejected == []
    bo_absent, ada_tardy, ada_present = marks["91001"], marks["91002"], marks["91003"]
    assert (bo_absent.session, bo_absent.source_code, bo_absent.category) == (
        "day", "A", r.AttendanceCategory.UNAUTHORISED_ABSENCE)  # fmt: skip
    assert bo_absent.recorded_at == local(2025, 9, 8, 8, 47, 55)
    # Meeting attendance names its period; T is mapped to late in the options.
    assert (ada_tardy.session, ada_tardy.source_code, ada_tardy.category) == (
        "P1",
        "T",
        r.AttendanceCategory.LATE,
    )
    # The present code has no att_code; a row without transaction_date counts from midnight.
    assert (ada_present.source_code, ada_present.category) == ("", r.AttendanceCategory.PRESENT)
    assert ada_present.recorded_at == local(2025, 9, 9)


def test_stored_and_current_grades_keep_their_tables_apart_and_dashes_mean_no_grade(
    server: FixtureServer,
) -> None:
    grades, rejected = read(connect(server), "grades")
    assert rejected == []
    # STOREDGRADES 66002 is last year's (TERMID 3401): not this year, not read.
    assert set(grades) == {"storedgrades:66001", "pgfinalgrades:67001", "pgfinalgrades:67002"}
    stored = grades["storedgrades:66001"]
    assert (stored.term, stored.mark, stored.percent) == ("Q1", "B+", 88.5)
    assert stored.updated_at == local(2025, 10, 24, 17, 55, 2)
    none_yet = grades["pgfinalgrades:67002"]
    assert (none_yet.mark, none_yet.percent, none_yet.updated_at) == (None, None, local(2026, 1, 20))


def test_scores_keep_late_missing_and_exempt_and_hide_unpublished_scores(server: FixtureServer) -> None:
    row = dict(server.tables["assignmentscore"][0], assignmentscoreid="600009", assignmentsectionid="555002",
               islate="0", scorepoints="41")  # fmt: skip
    server.tables["assignmentscore"].append(row)
    results, rejected = read(connect(server), "results")
    assert rejected == []
    assert (results["600001"].status, results["600001"].score) == (r.ResultStatus.LATE, 17.0)
    assert (results["600002"].status, results["600002"].score) == (r.ResultStatus.MISSING, None)
    assert results["600003"].status is r.ResultStatus.EXEMPT
    # Assignment 555002's scores are not published (ISSCORESPUBLISH = 0): the status shows, the score does not.
    assert (results["600009"].status, results["600009"].score) == (r.ResultStatus.SUBMITTED, None)
    assignments, _ = read(connect(server), "assignments")
    assert (assignments["555001"].section_id, assignments["555001"].points_possible) == ("4401", 20.0)


def test_only_log_types_the_district_maps_are_ever_requested(server: FixtureServer) -> None:
    private = {"dcid": "7003", "id": "7003", "studentid": "11", "logtypeid": "3003", "entry_date": "2025-09-20",
               "entry": "Called home about a health matter."}  # fmt: skip
    server.tables["log"].append(private)
    entries, rejected = read(connect(server), "behaviour")
    assert rejected == [] and set(entries) == {"7001", "7002"}
    assert (entries["7001"].polarity, entries["7001"].category) == (r.Polarity.BEHAVIOUR, "Discipline")
    assert (entries["7002"].polarity, entries["7002"].category) == (
        r.Polarity.ACHIEVEMENT,
        "Positive Recognition",
    )
    assert entries["7002"].occurred_at == local(2025, 9, 19) and entries["7002"].points == 0
    asked = [req.url.params.get("q", "") for req in server.requests if req.url.path == "/ws/schema/table/log"]
    assert asked and all("logtypeid==3003" not in q for q in asked)


def test_flattened_powerquery_rows_give_contacts_and_links_with_portal_access_from_data_access(
    server: FixtureServer,
) -> None:
    c = connect(server)
    contacts, rejected = read(c, "contacts")
    assert rejected == []
    assert contacts["9001"] == r.Contact(source_id="9001", first_name="Rowan", last_name="Quill", title=None,
                                         email="rowan.quill@example.invalid", phone="5550100123")  # fmt: skip
    assert contacts["9002"].phone is None
    links, rejected = read(c, "links")
    assert rejected == []
    mum, dad = links["12001"], links["12002"]
    assert (mum.student_id, mum.contact_id, mum.relationship, mum.parental_responsibility, mum.portal_access,
            mum.lives_with, mum.priority) == ("507", "9001", "Mother", True, True, True, 1)  # fmt: skip
    # PowerSchool has no court-order column: the link says nothing about one.
    assert (dad.parental_responsibility, dad.portal_access, dad.lives_with, dad.court_order) == (
        False, False, False, None,
    )  # fmt: skip


def test_older_servers_give_contacts_from_the_guardian_fields_on_students(server: FixtureServer) -> None:
    legacy = {str(row["tables"]["students"]["dcid"]): row["tables"]["students"]
              for row in load("schema_students_legacy_guardian_fields")["record"]}  # fmt: skip
    for row in server.tables["students"]:
        row.update(legacy.get(str(row["dcid"]), {}))
    c = connect(server, contacts="students")
    contacts, rejected = read(c, "contacts")
    assert rejected == []
    assert (contacts["507-mother"].first_name, contacts["507-mother"].last_name) == ("Rowan", "Quill")
    assert contacts["507-mother"].email == "rowan.quill@example.invalid"
    assert contacts["507-father"].email == "sam.q@example.invalid"
    assert contacts["9913-mother"].email is None
    links, _ = read(c, "links")
    assert links["507-mother"].portal_access and links["507-mother"].student_id == "507"
    assert not links["9913-mother"].portal_access  # ALLOWWEBACCESS 0
    assert not any(
        q.url.path.startswith("/ws/schema/query/com.portico.sis.contacts") for q in server.requests
    )


def test_a_row_naming_no_known_child_is_set_aside_with_its_reason(server: FixtureServer) -> None:
    enrolments, rejected = read(connect(server), "enrollments")
    # CC 80003 names STUDENTS.ID 12, Cy, who is not on roll this year: never attached to a guess.
    assert "80003" not in enrolments and len(rejected) == 1
    assert rejected[0].field == "studentid" and "matches no STUDENTS.ID" in rejected[0].reason
    assert "12" not in str(rejected[0])


def test_offset_less_timestamps_in_either_layout_are_read_in_the_zone() -> None:
    times = LocalTimes("America/Chicago")
    assert times("2025-09-08 08:47:55") == times("2025-09-08T08:47:55") == local(2025, 9, 8, 8, 47, 55)
    assert times("2025-09-02 07:41:13.218000") == local(2025, 9, 2, 7, 41, 13, 218000)
    # A stamp that does carry an offset keeps it.
    assert times("2025-09-08T08:47:55-04:00") == dt.datetime(2025, 9, 8, 12, 47, 55, tzinfo=dt.UTC)
    # Either side of the autumn clock change: the zone's offset of that minute.
    assert times("2025-11-02 00:30:00") == local(2025, 11, 2, 0, 30)
    assert times("2025-11-03 00:30:00") == local(2025, 11, 3, 0, 30)


def test_an_empty_powerquery_page_without_record_is_no_rows(server: FixtureServer) -> None:
    empty = load("powerquery_empty_page")
    server.queries["com.portico.sis.contacts.persons"] = []
    assert "record" not in empty
    contacts, rejected = read(connect(server), "contacts")
    assert contacts == {} and rejected == []
