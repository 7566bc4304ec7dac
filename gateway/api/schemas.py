"""The shapes the API answers with, for the OpenAPI document (``gateway.api.openapi``).

Responses are built by the allow-lists in :mod:`gateway.api.present`; these models say
the same in JSON Schema so the published contract has a schema for every response.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from config.settings import AlertKind

T = TypeVar("T")


class Meta(BaseModel):
    as_of: dt.datetime | None = Field(description="When the source data shown was extracted.")
    synced_at: dt.datetime | None = Field(description="The last successful sync of the source.")
    lag: str = Field(description="The visibility lag applied to this kind of data (ISO 8601 duration).")
    stale: bool = Field(
        description="True once the last successful sync is older than the configured threshold."
    )
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null at the end.")


class Envelope(BaseModel, Generic[T]):
    data: T
    meta: Meta


class Problem(BaseModel):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] | None = Field(
        default=None, description="Each bad field and what was expected."
    )


class School(BaseModel):
    name: str | None


class StudentSummary(BaseModel):
    id: str
    first_name: str
    last_name: str
    school: School
    grade_level: str
    homeroom: str | None


class Names(BaseModel):
    first: str | None
    last: str | None


class Enrollment(BaseModel):
    status: str
    entry_date: dt.date | None
    exit_date: dt.date | None


class StudentProfile(StudentSummary):
    legal_name: Names
    preferred_name: Names
    enrollment: Enrollment


Category = Literal["present", "late", "authorised_absence", "unauthorised_absence", "not_required"]


class AttendanceMark(BaseModel):
    id: str
    date: dt.date
    session: str
    code: str
    category: Category
    minutes_late: int | None


class CategoryCount(BaseModel):
    count: int
    percent: float | None


class AttendanceSummary(BaseModel):
    from_: dt.date = Field(alias="from")
    to: dt.date
    sessions: int
    by_category: dict[Category, CategoryCount]
    minutes_late: int


class ClassBrief(BaseModel):
    id: str | None
    name: str | None
    code: str | None
    teacher: str | None
    room: str | None


class Lesson(BaseModel):
    id: str
    date: dt.date
    day: int = Field(description="ISO weekday, 1 = Monday.")
    period: str
    start_time: str
    end_time: str
    class_: ClassBrief = Field(alias="class")


class Grade(BaseModel):
    id: str
    class_: ClassBrief = Field(alias="class")
    term: str
    mark: str | None
    percent: float | None
    updated_at: dt.datetime


class Result(BaseModel):
    score: float | None
    status: Literal["none", "submitted", "missing", "late", "exempt"]
    comment: str | None


class Assignment(BaseModel):
    id: str
    class_: ClassBrief = Field(alias="class")
    title: str
    category: str | None
    set_date: dt.date | None
    due_date: dt.date
    points_possible: float | None
    result: Result | None


class BehaviourEvent(BaseModel):
    id: str
    occurred_at: dt.datetime
    polarity: Literal["achievement", "behaviour"]
    points: int
    category: str
    description: str | None
    staff: str | None


class Totals(BaseModel):
    achievement: int
    behaviour: int
    net: int


class Behaviour(BaseModel):
    from_: dt.date = Field(alias="from")
    to: dt.date
    totals: Totals
    events: list[BehaviourEvent]


class ReportSummary(BaseModel):
    id: str
    title: str
    period: str
    issued_date: dt.date


class Report(ReportSummary):
    comments: str | None


class Notice(BaseModel):
    id: str
    audience: str
    title: str
    body: str
    publish_from: dt.datetime
    publish_to: dt.datetime | None
    current: bool


class Accessor(BaseModel):
    kind: Literal["you", "guardian", "student", "staff", "operator", "system"]
    id: str | None


class AccessLogEntry(BaseModel):
    at: dt.datetime
    accessed_by: Accessor
    category: str
    action: Literal["read", "export"]


class Correction(BaseModel):
    id: str
    about: str
    message: str
    status: Literal["open", "resolved", "rejected"]
    created_at: dt.datetime
    resolved_at: dt.datetime | None
    note: str | None


class CorrectionCreated(BaseModel):
    id: str
    status: Literal["open"]


class Export(BaseModel):
    student_id: str
    generated_at: dt.datetime
    records: dict[str, list[dict[str, Any]]]
    correction_requests: list[dict[str, Any]]


class Data(BaseModel, Generic[T]):
    data: T


class TotpSecret(BaseModel):
    secret: str
    uri: str


class CalendarFeed(BaseModel):
    id: str
    student_id: str = Field(description="The student the feed shows.")
    created_at: dt.datetime
    last_used_at: dt.datetime | None


class CalendarFeedCreated(BaseModel):
    id: str
    student_id: str
    url: str = Field(
        description="The feed's address, with its secret: shown this once, stored only as a hash."
    )


FamilyKind = Literal["attendance", "timetable", "grades", "assignments", "behaviour", "notices", "reports"]


class FamilyToken(BaseModel):
    id: str
    students: list[str]
    kinds: list[FamilyKind]
    created_at: dt.datetime
    expires_at: dt.datetime
    expired: bool
    last_used_at: dt.datetime | None


class FamilyTokenCreated(BaseModel):
    id: str
    token: str = Field(description="`pft_` and 256 bits: shown this once, stored only as a hash.")
    students: list[str]
    kinds: list[FamilyKind]
    expires_at: dt.datetime


class Health(BaseModel):
    status: str
    detail: str | None = None


class MeAup(BaseModel):
    accepted_version: str | None
    current_version: str
    accepted_at: dt.datetime | None
    accepted: bool
    text: str | None


class MePassword(BaseModel):
    policy: str
    changed_at: dt.datetime | None
    expires_at: dt.datetime | None
    expired: bool
    reminder: dict[str, Any] | None


class MeMfa(BaseModel):
    setting: Literal["off", "optional", "required"]
    enrolled: bool


class MeStudent(BaseModel):
    id: str
    first_name: str
    school: School


class Me(BaseModel):
    id: str
    role: Literal["guardian", "student"]
    aup: MeAup
    password: MePassword
    mfa: MeMfa
    students: list[MeStudent]
    notice: str | None = Field(description="Set when no student is visible: access is unavailable.")


# (method, path) → the 200 (or 201) body, for every route that answers with one.
# The kinds of alert, as the config names them (one list: config.settings.AlertKind).
AlertKindName = AlertKind
AlertModeName = Literal["instant", "daily", "weekly", "off"]


class QuietHoursDoc(BaseModel):
    model_config = {"extra": "forbid"}
    start: str = Field(pattern=r"^\d{2}:\d{2}$", description="HH:MM, district time")
    end: str = Field(pattern=r"^\d{2}:\d{2}$", description="HH:MM, district time (may be after midnight)")


class ChildAlertsIn(BaseModel):
    model_config = {"extra": "forbid"}
    id: str = Field(max_length=64, description="The student id of GET /v1/students")
    kinds: dict[AlertKindName, AlertModeName] = Field(
        default_factory=dict, description="A mode per kind; a kind left out follows the district's default"
    )


class AlertPreferencesIn(BaseModel):
    """PUT /v1/account/alerts: the whole set of choices (children left out follow the defaults)."""

    model_config = {"extra": "forbid"}
    children: list[ChildAlertsIn] = Field(default_factory=list, max_length=50)
    threshold: float | None = Field(
        default=None, ge=0, le=100, description="Alert on a score below this percentage; null: the district's"
    )
    quiet_hours: QuietHoursDoc | Literal["off"] | None = Field(
        default=None, description='No instant alerts in these hours; "off": none; null: the district\'s'
    )
    language: Literal["en_US", "en_GB", "es"] | None = Field(
        default=None, description="The language of alert emails; null: US English"
    )


class ChildAlerts(BaseModel):
    id: str
    first_name: str
    kinds: dict[AlertKindName, AlertModeName] = Field(
        description="The mode of every kind offered, defaults included"
    )


class AlertDigests(BaseModel):
    daily_at: str
    weekly_on: str
    weekly_at: str
    timezone: str


class AlertPreferences(BaseModel):
    children: list[ChildAlerts]
    threshold: float = Field(description="The score threshold in force (the account's or the district's)")
    threshold_chosen: float | None
    quiet_hours: QuietHoursDoc | None = Field(description="The quiet hours in force; null: none")
    quiet_hours_chosen: QuietHoursDoc | Literal["off"] | None
    language: str | None
    kinds: list[AlertKindName] = Field(description="The kinds the district offers")
    modes: list[AlertModeName]
    detail: Literal["first_name_and_kind", "portal_only"] = Field(description="How much an email may say")
    digests: AlertDigests


BODIES: dict[tuple[str, str], type[BaseModel]] = {
    ("get", "/v1/students"): Envelope[list[StudentSummary]],
    ("get", "/v1/students/{student_id}"): Envelope[StudentProfile],
    ("get", "/v1/students/{student_id}/attendance"): Envelope[list[AttendanceMark]],
    ("get", "/v1/students/{student_id}/attendance/summary"): Envelope[AttendanceSummary],
    ("get", "/v1/students/{student_id}/timetable"): Envelope[list[Lesson]],
    ("get", "/v1/students/{student_id}/grades"): Envelope[list[Grade]],
    ("get", "/v1/students/{student_id}/assignments"): Envelope[list[Assignment]],
    ("get", "/v1/students/{student_id}/behaviour"): Envelope[Behaviour],
    ("get", "/v1/students/{student_id}/reports"): Envelope[list[ReportSummary]],
    ("get", "/v1/students/{student_id}/reports/{report_id}"): Envelope[Report],
    ("get", "/v1/notices"): Envelope[list[Notice]],
    ("get", "/v1/students/{student_id}/access-log"): Envelope[list[AccessLogEntry]],
    ("get", "/v1/students/{student_id}/export"): Envelope[Export],
    ("get", "/v1/students/{student_id}/corrections"): Envelope[list[Correction]],
    ("post", "/v1/students/{student_id}/corrections"): Data[CorrectionCreated],
    ("get", "/v1/me"): Data[Me],
    ("get", "/v1/account/alerts"): Data[AlertPreferences],
    ("put", "/v1/account/alerts"): Data[AlertPreferences],
    ("post", "/v1/me/totp"): Data[TotpSecret],
    ("get", "/healthz"): Health,
    ("get", "/readyz"): Health,
    ("get", "/v1/account/feeds"): Data[list[CalendarFeed]],
    ("post", "/v1/account/feeds"): Data[CalendarFeedCreated],
    ("get", "/v1/account/tokens"): Data[list[FamilyToken]],
    ("post", "/v1/account/tokens"): Data[FamilyTokenCreated],
}
