"""What the simulated server has: its tables and their columns, and the named queries.

Column lists follow PowerSchool's data dictionary (the same sources the test fixtures
cite); a column not listed does not exist on this server (``400``). The named queries are
the ones a district installs with Portico's plugin, described here from the server's side:
what each returns and every ``table.column`` its SQL touches (each must be granted).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    name: str
    columns: frozenset[str]
    kind: str | None = None  # the record kind whose rows fill it; None: a fixed table
    has_txn: bool = False  # a transaction_date column (kept by the overlay clock)
    primary_key: str = "dcid"


def _t(name: str, columns: str, kind: str | None = None, *, key: str = "dcid") -> Table:
    cols = frozenset(columns.split())
    return Table(name, cols, kind, "transaction_date" in cols, key)


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        _t("schools", "dcid id school_number name abbreviation low_grade high_grade alternate_school_number "
           "sortorder issummerschool schooladdress schoolcity schoolstate schoolzip schoolphone principal "
           "principalemail transaction_date"),
        _t("terms", "dcid id yearid schoolid name abbreviation firstday lastday isyearrec portion noofdays "
           "periods_per_day days_per_cycle attendance_calculation_code transaction_date"),
        _t("students", "dcid id student_number first_name middle_name last_name lastfirst dob gender grade_level "
           "schoolid enroll_status entrydate exitdate home_room person_id state_studentnumber web_id "
           "allowwebaccess student_web_id student_allowwebaccess mother father guardianemail guardianfax "
           "home_phone emerg_contact_1 emerg_contact_2 emerg_phone_1 emerg_phone_2 doctor_name doctor_phone "
           "transaction_date", "student"),
        _t("courses", "dcid id course_number course_name credit_hours schoolid sched_department"),
        _t("sections", "dcid id schoolid course_number section_number termid teacher room expression "
           "external_expression no_of_students maxenrollment att_mode_code attendance_type_code gradebooktype "
           "transaction_date", "section"),
        _t("schoolstaff", "id dcid users_dcid schoolid status", key="id"),
        _t("users", "dcid first_name middle_name last_name lastfirst email_addr title homeschoolid"),
        _t("cc", "dcid id studentid sectionid termid schoolid section_number course_number dateenrolled dateleft "
           "teacherid studyear currentabsences currenttardies expression transaction_date", "enrollment"),
        _t("section_meeting", "id sectionid schoolid year_id period_number cycle_day_letter meeting", "timetable",
           key="id"),
        _t("period", "dcid id schoolid year_id period_number abbreviation name sort_order"),
        _t("cycle_day", "dcid id schoolid year_id letter abbreviation day_name day_number sortorder"),
        _t("calendar_day", "dcid id schoolid date_value insession a b c d e f membershipvalue cycle_day_id "
           "bell_schedule_id scheduleid type note"),
        _t("bell_schedule_items", "id bell_schedule_id period_id start_time end_time minutes_attended "
           "daily_attendance_code ada_code", key="id"),
        _t("attendance", "dcid id studentid schoolid yearid att_date att_mode_code attendance_codeid ccid "
           "periodid calendar_dayid att_comment att_interval att_flags total_minutes ada_value_code "
           "ada_value_time adm_value transaction_date", "attendance"),
        _t("attendance_code", "dcid id schoolid yearid att_code description presence_status_cd alternate_code "
           "calculate_ada_yn calculate_adm_yn course_credit_points sortorder", key="id"),
        _t("assignmentsection", "assignmentsectionid assignmentid sectionsdcid name description duedate scoretype "
           "scoreentrypoints totalpointvalue extracreditpoints weight iscountedinfinalgrade isscorespublish "
           "isscoringneeded publishoption publishonspecificdate publishdaysbeforedue publisheddate yearid "
           "whencreated whenmodified", "assignment", key="assignmentsectionid"),
        _t("assignmentscore", "assignmentscoreid assignmentsectionid studentsdcid scorepoints actualscoreentered "
           "islate ismissing isexempt isincomplete isabsent iscollected hasretake whencreated whenmodified",
           "result", key="assignmentscoreid"),
        _t("storedgrades", "dcid studentid sectionid termid schoolid storecode datestored grade percent gpa_points "
           "earnedcrhrs potentialcrhrs course_number course_name credit_type teacher_name grade_level behavior "
           "comment_value excludefromgpa excludefromtranscripts schoolname transaction_date", "grade"),
        _t("pgfinalgrades", "dcid id studentid sectionid finalgradename startdate enddate grade percent points "
           "pointspossible calculatedgrade calculatedpercent overridefg citizenship comment_value isincomplete "
           "isexempt gradebooktype lastgradeupdate transaction_date", "grade"),
        _t("log", "dcid id studentid schoolid logtypeid entry_date entry", "behaviour"),
        _t("gen", "dcid id cat name value valuet value2 date_value sortorder schoolid yearid"),
        # A district's own tables (the connector's notices_table / reports_table options).
        _t("u_portico_notices", "id audience schoolid grade_level sectionsdcid title body publish_from publish_to",
           "notice", key="id"),
        _t("u_portico_reports", "id studentsdcid title period issued_date comments", "report", key="id"),
    )
}  # fmt: skip

# The record kind behind each table's rows, when the grades' two tables split one kind.
GRADE_TABLES = ("storedgrades", "pgfinalgrades")


@dataclass(frozen=True)
class NamedQuery:
    name: str
    kind: str
    core_table: str
    touches: frozenset[tuple[str, str]]  # every table.column its SQL reads: each must be granted


def _q(name: str, kind: str, core: str, touches: str) -> NamedQuery:
    pairs = frozenset(tuple(p.split(".")) for p in touches.split())
    return NamedQuery(name, kind, core, pairs)  # type: ignore[arg-type]


QUERIES: dict[str, NamedQuery] = {
    q.name: q
    for q in (
        _q("com.portico.sis.contacts.persons", "contact", "person",
           "person.id person.firstname person.lastname emailaddress.emailaddress emailaddress.emailaddressid "
           "personemailaddressassoc.personid personemailaddressassoc.emailaddressid "
           "personemailaddressassoc.isprimaryemailaddress personemailaddressassoc.emailaddresspriorityorder "
           "personphonenumberassoc.personid personphonenumberassoc.phonenumberid "
           "personphonenumberassoc.phonenumberasentered personphonenumberassoc.ispreferred "
           "personphonenumberassoc.phonenumberpriorityorder phonenumber.phonenumberid phonenumber.phonenumber "
           "studentcontactassoc.personid"),
        _q("com.portico.sis.contacts.student_contacts", "link", "studentcontactassoc",
           "studentcontactassoc.studentcontactassocid studentcontactassoc.studentdcid studentcontactassoc.personid "
           "studentcontactassoc.contactpriorityorder studentcontactdetail.studentcontactassocid "
           "studentcontactdetail.isactive studentcontactdetail.iscustodial studentcontactdetail.liveswithflg "
           "studentcontactdetail.relationshiptypecodesetid codeset.codesetid codeset.code person.id person.isactive "
           "guardianstudent.guardianid guardianstudent.studentsdcid guardianpersonassoc.guardianid "
           "guardianpersonassoc.personid"),
        _q("com.portico.sis.students.emails", "student", "students",
           "students.dcid students.person_id personemailaddressassoc.personid "
           "personemailaddressassoc.isprimaryemailaddress personemailaddressassoc.emailaddressid "
           "emailaddress.emailaddressid emailaddress.emailaddress"),
    )
}  # fmt: skip
