"""What the OneRoster CSV binding says about the files Portico reads.

Source: *1EdTech OneRoster: CSV Binding*, version 1.2 (1.2.1 is the current text,
https://www.imsglobal.org/spec/oneroster/v1p2/bind/csv), section 3 (one table per file:
columns in order, "Required"), Table 3.1 (the manifest), section 4 (proprietary ``ext:``
terms); and the 1.1 CSV tables (https://www.imsglobal.org/oneroster-v11-final-csv-tables)
for what 1.1 does differently. Only the columns Portico uses are named here; a file
is bound by header name, so extension columns (``metadata.*``) and columns Portico does
not use are read past. Headers and values are case-sensitive in the binding.
"""

from __future__ import annotations

from dataclasses import dataclass

# Every data file a 1.2 manifest lists (``file.<name>``); 1.1 lists the first thirteen.
FILES_12 = (
    "academicSessions", "categories", "classes", "classResources", "courses", "courseResources",
    "demographics", "enrollments", "lineItems", "orgs", "resources", "results", "users",
    "lineItemLearningObjectiveIds", "lineItemScoreScales", "resultLearningObjectiveIds",
    "resultScoreScales", "roles", "scoreScales", "userProfiles", "userResources",
)  # fmt: skip
VERSIONS = {"1.1": "1.1", "1.2": "1.2", "1.2.1": "1.2"}  # oneroster.version -> the binding read
MODES = ("bulk", "delta", "absent")

# The rostering minimum (binding, Appendix A): a file absent from every bundle is an
# export that cannot roster anybody, not "no data".
ROSTERING = ("orgs", "users", "enrollments", "classes", "courses", "academicSessions")

SCORE_STATUSES = ("exempt", "fully graded", "not submitted", "partially graded", "submitted")
ROLES_12 = (
    "aide", "counselor", "districtAdministrator", "guardian", "parent", "principal", "proctor",
    "relative", "siteAdministrator", "student", "systemAdministrator", "teacher",
)  # fmt: skip
ROLES_11 = ("administrator", "aide", "guardian", "parent", "proctor", "relative", "student", "teacher")


@dataclass(frozen=True)
class FileSpec:
    """The columns Portico reads from one file, and which of them the binding requires."""

    columns: tuple[str, ...]
    required: tuple[str, ...]


def _f(columns: str, required: str) -> FileSpec:
    return FileSpec(tuple(columns.split()), tuple(required.split()))


_COMMON = {
    "orgs": _f("sourcedId name type identifier parentSourcedId", "sourcedId name type"),
    "academicSessions": _f(
        "sourcedId title type startDate endDate parentSourcedId schoolYear",
        "sourcedId title type startDate endDate schoolYear",
    ),
    "courses": _f("sourcedId title courseCode orgSourcedId", "sourcedId title orgSourcedId"),
    "classes": _f(
        "sourcedId title courseSourcedId classCode classType location schoolSourcedId termSourcedIds",
        "sourcedId title courseSourcedId classType schoolSourcedId termSourcedIds",
    ),
    "demographics": _f("sourcedId birthDate", "sourcedId"),
    "enrollments": _f(
        "sourcedId classSourcedId schoolSourcedId userSourcedId role primary beginDate endDate",
        "sourcedId classSourcedId schoolSourcedId userSourcedId role",
    ),
    "categories": _f("sourcedId title", "sourcedId title"),
}

SPEC: dict[str, dict[str, FileSpec]] = {
    "1.2": {
        **_COMMON,
        "users": _f(
            "sourcedId enabledUser username userIds givenName familyName identifier email sms phone "
            "agentSourcedIds grades preferredGivenName preferredFamilyName primaryOrgSourcedId",
            "sourcedId enabledUser username givenName familyName",
        ),
        "roles": _f(
            "sourcedId userSourcedId roleType role beginDate endDate orgSourcedId",
            "sourcedId userSourcedId roleType role orgSourcedId",
        ),
        "lineItems": _f(
            "sourcedId title assignDate dueDate classSourcedId categorySourcedId academicSessionSourcedId "
            "resultValueMax schoolSourcedId",
            "sourcedId title assignDate dueDate classSourcedId categorySourcedId academicSessionSourcedId "
            "schoolSourcedId",
        ),
        "results": _f(
            "sourcedId lineItemSourcedId studentSourcedId scoreStatus score scoreDate comment textScore "
            "late missing",
            "sourcedId lineItemSourcedId studentSourcedId scoreStatus scoreDate",
        ),
    },
    "1.1": {
        **_COMMON,
        "users": _f(
            "sourcedId enabledUser orgSourcedIds role username userIds givenName familyName identifier "
            "email sms phone agentSourcedIds grades",
            "sourcedId enabledUser orgSourcedIds role username givenName familyName",
        ),
        "lineItems": _f(
            "sourcedId title assignDate dueDate classSourcedId categorySourcedId gradingPeriodSourcedId "
            "resultValueMax",
            "sourcedId title assignDate dueDate classSourcedId categorySourcedId gradingPeriodSourcedId",
        ),
        "results": _f(
            "sourcedId lineItemSourcedId studentSourcedId scoreStatus score scoreDate comment",
            "sourcedId lineItemSourcedId studentSourcedId scoreStatus scoreDate",
        ),
    },
}
# Every file carries these two; in a delta file every row must fill both.
CHANGE_COLUMNS = ("status", "dateLastModified")
