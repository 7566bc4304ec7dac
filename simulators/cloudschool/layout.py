"""The files a Cloud-School-like SIS writes, as its export layout describes them
(``connectors/cloudschool/README.md``, "Preset layout").

Written here from the layout's description, not taken from the connector: a simulator
that shared the connector's own table of columns could only ever agree with it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExportFile:
    entity: str
    file: str
    columns: tuple[str, ...]


def _file(entity: str, file: str, header: str) -> ExportFile:
    return ExportFile(entity, file, tuple(header.split(",")))


# In the order of the README's "Preset layout" block, header row for header row.
FILES: dict[str, ExportFile] = {
    f.entity: f
    for f in (
        _file(
            "students",
            "students.csv",
            "StudentID,UPN,LegalForename,LegalSurname,PreferredForename,DOB,Gender,Year,Reg,House,"
            "AdmissionDate,LeavingDate",
        ),
        _file(
            "contacts",
            "contacts.csv",
            "StudentID,ContactID,Title,ContactForename,ContactSurname,Relationship,Priority,"
            "ParentalResponsibility,LivesWith,CourtOrder,PortalAccess,PrimaryEmail,MobileNumber",
        ),
        _file("classes", "classes.csv", "ClassID,Subject,TeacherCode,TeacherName,Room"),
        _file("class_members", "class_members.csv", "ClassID,StudentID,StartDate,EndDate"),
        _file("timetable", "timetable.csv", "ClassID,Day,Period,StartTime,EndTime,WeekPattern"),
        _file("attendance", "attendance_sessions.csv", "StudentID,Date,Session,Mark,MinutesLate"),
        _file("assignments", "assignments.csv", "AssignmentID,ClassID,Title,SetDate,DueDate,MaxMark"),
        _file("assignment_results", "assignment_results.csv", "AssignmentID,StudentID,Mark,Status,Comment"),
        _file("assessments", "assessments.csv", "StudentID,ClassID,ResultSet,Aspect,Result,Date"),
        _file(
            "behaviour",
            "behaviour.csv",
            "IncidentID,StudentID,DateTime,Type,Polarity,Points,Reason,Narrative,LoggedBy",
        ),
        _file("achievements", "achievements.csv", "AwardID,StudentID,Date,Type,Points,Comment,AwardedBy"),
        _file("notices", "notices.csv", "NoticeID,AudienceType,AudienceID,Title,Body,PublishFrom,PublishTo"),
        _file(
            "progress_reports",
            "progress_reports.csv",
            "ReportID,StudentID,Title,ReportingPeriod,IssuedDate,Comments",
        ),
    )
}
