"""Rows of the school-work files (assignments, results, assessments, behaviour,
achievements, notices, progress reports) to canonical records (see normalize.py)."""

from __future__ import annotations

from connectors.cloudschool.attendance import slot_setters
from connectors.cloudschool.normalize import Converter, Ctx, Index, need
from connectors.cloudschool.values import BadCell, opt, parse_float, parse_int
from connectors.records import (
    Assignment,
    AssignmentResult,
    Audience,
    BehaviourEvent,
    Grade,
    Notice,
    Polarity,
    ProgressReport,
    ResultStatus,
)


def assignments(ix: Index, ctx: Ctx) -> Converter:
    i_id, i_class, i_title, i_set, i_due, i_max = (
        ix(c) for c in ("AssignmentID", "ClassID", "Title", "SetDate", "DueDate", "MaxMark")
    )

    def convert(row: list[str]) -> Assignment:
        top = row[i_max].strip()
        return Assignment(
            source_id=need(row[i_id], "AssignmentID"),
            section_id=need(row[i_class], "ClassID"),
            title=need(row[i_title], "Title"),
            category=None,
            set_date=ctx.opt_date(row[i_set], "SetDate"),
            due_date=ctx.date(row[i_due], "DueDate"),
            points_possible=parse_float(top, "MaxMark") if top else None,
        )

    return convert


_STATUS = {
    "": ResultStatus.NONE,
    "none": ResultStatus.NONE,
    "not set": ResultStatus.NONE,
    "submitted": ResultStatus.SUBMITTED,
    "handed in": ResultStatus.SUBMITTED,
    "complete": ResultStatus.SUBMITTED,
    "completed": ResultStatus.SUBMITTED,
    "marked": ResultStatus.SUBMITTED,
    "missing": ResultStatus.MISSING,
    "not handed in": ResultStatus.MISSING,
    "late": ResultStatus.LATE,
    "exempt": ResultStatus.EXEMPT,
    "excused": ResultStatus.EXEMPT,
}


def assignment_results(ix: Index, ctx: Ctx) -> Converter:
    """A bulk file (students x assignments): built through slots like attendance marks."""
    i_id, i_sid, i_mark, i_status, i_comment = (
        ix(c) for c in ("AssignmentID", "StudentID", "Mark", "Status", "Comment")
    )
    statuses: dict[str, ResultStatus] = {}
    new, cls = object.__new__, AssignmentResult
    s_id, s_assignment, s_student, s_score, s_status, s_comment, s_text, s_source_status = slot_setters(cls)

    def status_of(cell: str) -> ResultStatus:
        status = _STATUS.get(" ".join(cell.split()).casefold())
        if status is None:
            raise BadCell("Status", "not a result status (submitted, missing, late, exempt or blank)")
        statuses[cell] = status
        return status

    def convert(row: list[str]) -> AssignmentResult:
        aid, sid, mark = row[i_id].strip(), row[i_sid].strip(), row[i_mark].strip()
        if not aid or not sid:
            raise BadCell("StudentID" if aid else "AssignmentID", "blank")
        status = statuses.get(row[i_status]) or status_of(row[i_status])
        comment = row[i_comment].strip()
        o = new(cls)
        s_id(o, f"{aid}-{sid}")
        s_assignment(o, aid)
        s_student(o, sid)
        s_score(o, parse_float(mark, "Mark") if mark else None)
        s_status(o, status)
        s_comment(o, comment or None)
        s_text(o, None)
        s_source_status(o, None)
        return o

    return convert


_PERCENT_ASPECTS = {"percent", "percentage", "%", "score %"}


def assessments(ix: Index, ctx: Ctx) -> Converter:
    """A row fills a Grade's ``percent`` (a percentage aspect or a ``%`` result) or its
    mark (any other aspect); rows of one student, class and result set are merged by
    the connector (``merge_grades``)."""
    i_sid, i_class, i_set, i_aspect, i_result, i_date = (
        ix(c) for c in ("StudentID", "ClassID", "ResultSet", "Aspect", "Result", "Date")
    )

    def convert(row: list[str]) -> Grade:
        sid, cid, rset = (
            need(row[i_sid], "StudentID"),
            need(row[i_class], "ClassID"),
            need(row[i_set], "ResultSet"),
        )
        aspect, result = row[i_aspect].strip(), need(row[i_result], "Result")
        is_percent = aspect.casefold() in _PERCENT_ASPECTS or result.endswith("%")
        return Grade(
            source_id=f"{sid}-{cid}-{rset}",
            student_id=sid,
            section_id=cid,
            term=rset,
            mark=None if is_percent else result,
            percent=parse_float(result, "Result") if is_percent else None,
            updated_at=ctx.datetime(row[i_date], "Date"),
        )

    return convert


_POLARITY = {
    "": Polarity.BEHAVIOUR,
    "negative": Polarity.BEHAVIOUR,
    "behaviour": Polarity.BEHAVIOUR,
    "-": Polarity.BEHAVIOUR,
    "positive": Polarity.ACHIEVEMENT,
    "achievement": Polarity.ACHIEVEMENT,
    "+": Polarity.ACHIEVEMENT,
}


def behaviour(ix: Index, ctx: Ctx) -> Converter:
    """Incidents; ids are prefixed because incident and award numbers are separate series."""
    i_id, i_sid, i_at, i_type, i_pol, i_points, i_reason, i_text, i_staff = (
        ix(c)
        for c in (
            "IncidentID",
            "StudentID",
            "DateTime",
            "Type",
            "Polarity",
            "Points",
            "Reason",
            "Narrative",
            "LoggedBy",
        )
    )

    def convert(row: list[str]) -> BehaviourEvent:
        polarity = _POLARITY.get(row[i_pol].strip().casefold())
        if polarity is None:
            raise BadCell("Polarity", "not Positive or Negative")
        points = row[i_points].strip()
        return BehaviourEvent(
            source_id="incident-" + need(row[i_id], "IncidentID"),
            student_id=need(row[i_sid], "StudentID"),
            occurred_at=ctx.datetime(row[i_at], "DateTime"),
            polarity=polarity,
            points=parse_int(points, "Points") if points else 0,
            category=row[i_type].strip() or row[i_reason].strip(),
            description=opt(row[i_text]),
            staff_name=opt(row[i_staff]),
        )

    return convert


def achievements(ix: Index, ctx: Ctx) -> Converter:
    i_id, i_sid, i_at, i_type, i_points, i_text, i_staff = (
        ix(c) for c in ("AwardID", "StudentID", "Date", "Type", "Points", "Comment", "AwardedBy")
    )

    def convert(row: list[str]) -> BehaviourEvent:
        points = row[i_points].strip()
        return BehaviourEvent(
            source_id="award-" + need(row[i_id], "AwardID"),
            student_id=need(row[i_sid], "StudentID"),
            occurred_at=ctx.datetime(row[i_at], "Date"),
            polarity=Polarity.ACHIEVEMENT,
            points=parse_int(points, "Points") if points else 0,
            category=row[i_type].strip(),
            description=opt(row[i_text]),
            staff_name=opt(row[i_staff]),
        )

    return convert


_AUDIENCE = {
    "district": Audience.DISTRICT,
    "all": Audience.DISTRICT,
    "trust": Audience.DISTRICT,
    "school": Audience.SCHOOL,
    "wholeschool": Audience.SCHOOL,
    "year": Audience.YEAR,
    "yeargroup": Audience.YEAR,
    "class": Audience.SECTION,
    "section": Audience.SECTION,
}


def notices(ix: Index, ctx: Ctx) -> Converter:
    i_id, i_type, i_aud, i_title, i_body, i_from, i_to = (
        ix(c) for c in ("NoticeID", "AudienceType", "AudienceID", "Title", "Body", "PublishFrom", "PublishTo")
    )

    def convert(row: list[str]) -> Notice:
        audience = _AUDIENCE.get("".join(row[i_type].split()).casefold())
        if audience is None:
            raise BadCell("AudienceType", "not District, School, Year or Class")
        target = row[i_aud].strip()
        if audience in (Audience.YEAR, Audience.SECTION) and not target:
            raise BadCell("AudienceID", "blank for a year or class notice")
        until = row[i_to]
        return Notice(
            source_id=need(row[i_id], "NoticeID"),
            audience=audience,
            school_id=ctx.school_id if audience in (Audience.SCHOOL, Audience.YEAR) else None,
            year_group=target if audience is Audience.YEAR else None,
            section_id=target if audience is Audience.SECTION else None,
            title=need(row[i_title], "Title"),
            body=row[i_body].strip(),
            publish_from=ctx.datetime(row[i_from], "PublishFrom"),
            publish_to=ctx.datetime(until, "PublishTo") if until.strip() else None,
        )

    return convert


def progress_reports(ix: Index, ctx: Ctx) -> Converter:
    i_id, i_sid, i_title, i_period, i_issued, i_comments = (
        ix(c) for c in ("ReportID", "StudentID", "Title", "ReportingPeriod", "IssuedDate", "Comments")
    )

    def convert(row: list[str]) -> ProgressReport:
        return ProgressReport(
            source_id=need(row[i_id], "ReportID"),
            student_id=need(row[i_sid], "StudentID"),
            title=need(row[i_title], "Title"),
            period=row[i_period].strip(),
            issued_date=ctx.date(row[i_issued], "IssuedDate"),
            comments=opt(row[i_comments]),
        )

    return convert


def merge_grades(first: Grade, later: Grade) -> Grade | None:
    """The mark of one row and the percentage of another; None when both say the same thing."""
    if (first.mark is not None and later.mark is not None) or (
        first.percent is not None and later.percent is not None
    ):
        return None
    return Grade(
        source_id=first.source_id,
        student_id=first.student_id,
        section_id=first.section_id,
        term=first.term,
        mark=first.mark if first.mark is not None else later.mark,
        percent=first.percent if first.percent is not None else later.percent,
        updated_at=max(first.updated_at, later.updated_at),
    )
