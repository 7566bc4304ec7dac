"""PowerSchool rows of the day-to-day records: attendance, coursework, grades, behaviour,
and a district's own notices and reports (see :mod:`connectors.powerschool.normalize`)."""

from __future__ import annotations

import datetime as dt

from config.errors import RecordError
from connectors import records as r
from connectors.powerschool.normalize import Context, Row, get, opt, req, stamp
from connectors.powerschool.values import date, flag, grade_level, ident, number

DAILY, MEETING = "att_modedaily", "att_modemeeting"


# --- attendance ----------------------------------------------------------------------------------


def attendance(row: Row, ctx: Context) -> r.AttendanceMark:
    on = get(row, "att_date", date)
    mode = str(req(row, "att_mode_code")).lower()
    if mode == DAILY:
        session = "day"
    elif mode == MEETING:
        session = ctx.periods.get(opt(row, "periodid", ident) or "", "")
        if not session:
            raise RecordError("periodid matches no PERIOD", field="periodid")
    else:
        raise RecordError("att_mode_code is neither daily nor meeting attendance", field="att_mode_code")
    code = ctx.codes.get(get(row, "attendance_codeid", ident))
    if code is None:
        raise RecordError("attendance_codeid matches no ATTENDANCE_CODE", field="attendance_codeid")
    return r.AttendanceMark(
        source_id=get(row, "dcid", ident),
        student_id=ctx.students.from_id(row.get("studentid")),
        date=on,
        session=session,
        source_code=code[0],
        category=code[1],
        minutes_late=None,
        recorded_at=stamp(row, "transaction_date", ctx, on),
    )


def attendance_fast(row: Row, ctx: Context) -> r.AttendanceMark:
    """The bulk kind without the diagnosing helpers; any surprise takes the path above."""
    if row["att_mode_code"] != "ATT_ModeDaily":
        raise ValueError("needs the generic path")
    sid = row["studentid"]
    student_id = ctx.students.by_id[sid if isinstance(sid, str) else str(sid)]
    code_id = row["attendance_codeid"]
    code = ctx.codes[code_id if isinstance(code_id, str) else str(code_id)]
    dcid = row["dcid"]
    if not student_id or not isinstance(dcid, str) or not dcid:
        raise ValueError("needs the generic path")
    return r.AttendanceMark(
        source_id=dcid,
        student_id=student_id,
        date=dt.date.fromisoformat(row["att_date"]),
        session="day",
        source_code=code[0],
        category=code[1],
        minutes_late=None,
        recorded_at=ctx.times(row["transaction_date"]),
    )


# --- coursework and grades -------------------------------------------------------------------------


def assignment(row: Row, ctx: Context) -> r.Assignment:
    return r.Assignment(
        source_id=get(row, "assignmentsectionid", ident),
        section_id=ctx.sections.from_dcid(row.get("sectionsdcid")),
        title=get(row, "name"),
        category=None,
        set_date=None,
        due_date=get(row, "duedate", date),
        points_possible=opt(row, "totalpointvalue", number),
    )


_RESULT_FLAGS = (
    ("isexempt", r.ResultStatus.EXEMPT),
    ("ismissing", r.ResultStatus.MISSING),
    ("islate", r.ResultStatus.LATE),
)


def result(row: Row, ctx: Context) -> r.AssignmentResult:
    assignment_id = get(row, "assignmentsectionid", ident)
    score = opt(row, "scorepoints", number)
    status = next((s for key, s in _RESULT_FLAGS if opt(row, key, flag)), None)
    if status is None:
        collected = opt(row, "iscollected", flag)
        status = r.ResultStatus.SUBMITTED if collected or score is not None else r.ResultStatus.NONE
    return r.AssignmentResult(
        source_id=get(row, "assignmentscoreid", ident),
        assignment_id=assignment_id,
        student_id=ctx.students.from_dcid(row.get("studentsdcid")),
        # A score the teacher has not published is not shown (ASSIGNMENTSECTION.ISSCORESPUBLISH = 0).
        score=None if assignment_id in ctx.unpublished else score,
        status=status,
        comment=None,
    )


_TRUE, _FALSE = ("1", 1, True, "true"), ("0", 0, False, None, "", "false")


def result_fast(row: Row, ctx: Context) -> r.AssignmentResult:
    """The other bulk kind: flags as the wire sends them ("0"/"1"); any surprise takes the path above."""
    assignment_id, score_id, student = (
        row["assignmentsectionid"],
        row["assignmentscoreid"],
        row["studentsdcid"],
    )
    if not (
        type(assignment_id) is str and type(score_id) is str and type(student) is str
        and assignment_id.isdigit() and score_id.isdigit() and student in ctx.students.school_of
    ):  # fmt: skip
        raise ValueError("needs the generic path")
    flags = [row.get(k) for k in ("isexempt", "ismissing", "islate", "iscollected")]
    if any(f not in _TRUE and f not in _FALSE for f in flags):
        raise ValueError("needs the generic path")
    raw = row.get("scorepoints")
    score = None if raw is None or raw == "" else float(raw)
    if isinstance(raw, bool):
        raise ValueError("needs the generic path")
    if flags[0] in _TRUE:
        status = r.ResultStatus.EXEMPT
    elif flags[1] in _TRUE:
        status = r.ResultStatus.MISSING
    elif flags[2] in _TRUE:
        status = r.ResultStatus.LATE
    elif flags[3] in _TRUE or score is not None:
        status = r.ResultStatus.SUBMITTED
    else:
        status = r.ResultStatus.NONE
    return r.AssignmentResult(
        source_id=score_id,
        assignment_id=assignment_id,
        student_id=student,
        score=None if assignment_id in ctx.unpublished else score,
        status=status,
        comment=None,
    )


def _grade(row: Row, ctx: Context, table: str, term_key: str, date_key: str) -> r.Grade:
    mark = opt(row, "grade")
    if mark is not None and mark.strip() in ("", "--"):
        mark = None  # "--": no grade yet
    return r.Grade(
        source_id=f"{table}:{get(row, 'dcid', ident)}",
        student_id=ctx.students.from_id(row.get("studentid")),
        section_id=ctx.sections.from_id(row.get("sectionid")),
        term=get(row, term_key),
        mark=mark,
        percent=None if mark is None else opt(row, "percent", number),
        updated_at=stamp(row, "transaction_date", ctx, opt(row, date_key, date)),
    )


def stored_grade(row: Row, ctx: Context) -> r.Grade:
    return _grade(row, ctx, "storedgrades", "storecode", "datestored")


def final_grade(row: Row, ctx: Context) -> r.Grade:
    return _grade(row, ctx, "pgfinalgrades", "finalgradename", "lastgradeupdate")


def behaviour(row: Row, ctx: Context) -> r.BehaviourEvent:
    kind = ctx.log_types.get(get(row, "logtypeid", ident))
    if kind is None:
        raise RecordError("logtypeid is not a log type mapped in options.log_types", field="logtypeid")
    return r.BehaviourEvent(
        source_id=get(row, "dcid", ident),
        student_id=ctx.students.from_id(row.get("studentid")),
        occurred_at=ctx.times.midnight(get(row, "entry_date", date)),
        polarity=kind[1],
        points=0,  # PowerSchool log entries carry no points
        category=kind[0],
        description=opt(row, "entry"),
        staff_name=None,
    )


# --- a district's own tables -----------------------------------------------------------------------


def notice(row: Row, ctx: Context) -> r.Notice:
    try:
        audience = r.Audience(str(req(row, "audience")).strip().lower())
    except ValueError:
        raise RecordError("value is not a valid audience", field="audience") from None
    school = opt(row, "schoolid", ident)
    section_id = opt(row, "sectionsdcid", ident)
    return r.Notice(
        source_id=get(row, "id", ident),
        audience=audience,
        school_id=None if school is None else ctx.schools.dcid(school),
        year_group=opt(row, "grade_level", grade_level),
        section_id=None if section_id is None else ctx.sections.from_dcid(section_id),
        title=get(row, "title"),
        body=get(row, "body"),
        publish_from=stamp(row, "publish_from", ctx, None),
        publish_to=stamp(row, "publish_to", ctx, None) if row.get("publish_to") not in (None, "") else None,
    )


def report(row: Row, ctx: Context) -> r.ProgressReport:
    return r.ProgressReport(
        source_id=get(row, "id", ident),
        student_id=ctx.students.from_dcid(row.get("studentsdcid")),
        title=get(row, "title"),
        period=get(row, "period"),
        issued_date=get(row, "issued_date", date),
        comments=opt(row, "comments"),
    )
