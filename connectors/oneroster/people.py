"""OneRoster users to students, contacts and the links between them.

Roles come from ``roles.csv`` (1.2: any number per user, each for one org, with
optional begin and end dates, the end exclusive) or from ``users.role`` and
``users.orgSourcedIds`` (1.1: one role per user row). A student is a user with a
student role; a contact is a user with a current role in ``contact_roles`` (a teacher
who is also a parent has both). Parent links come from ``agentSourcedIds`` on either
side: a student's row naming adults, or an adult's row naming children. Both are
read and unioned; a link stated twice is one link, and its direction comes from the
two users' roles, never from the column it was found in. The district's access rule
decides each link from the adult's role (``relationship``) and ``enabledUser``
(``enabled``): OneRoster carries nothing else about entitlement.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from config.errors import RecordError
from connectors import records as rec
from connectors.oneroster.cells import Bad, err, items, parse_bool, parse_date, typed_ids
from connectors.oneroster.options import Options
from connectors.oneroster.tables import Row, Tables
from connectors.rules import Policy


@dataclass(frozen=True)
class Role:
    role: str
    primary: bool
    org: str
    begin: dt.date | None
    end: dt.date | None  # exclusive

    def state(self, today: dt.date) -> str:
        if self.begin is not None and self.begin > today:
            return "future"
        if self.end is not None and self.end <= today:
            return "ended"
        return "current"


@dataclass
class User:
    where: str
    row: Row
    roles: list[Role] = field(default_factory=list)

    @property
    def sid(self) -> str:
        return self.row["sourcedId"]


@dataclass
class People:
    users: dict[str, User]
    students: dict[str, rec.Student]  # by user sourcedId
    keys: dict[str, str]  # user sourcedId -> the student's source id (options.student_id)
    contacts: dict[str, rec.Contact]
    links: list[rec.StudentContact]
    errors: dict[str, list[RecordError]]  # stream -> rows set aside


def load_users(tables: Tables, today: dt.date, errors: dict[str, list[RecordError]]) -> dict[str, User]:
    users: dict[str, User] = {}
    for where, row in tables.rows("users"):
        users[row["sourcedId"]] = User(where, row)
    if tables.version == "1.1":
        for u in users.values():
            for org in items(u.row.get("orgSourcedIds", "")):
                u.roles.append(Role(u.row["role"], True, org, None, None))
        return users
    for where, row in tables.rows("roles"):
        owner = users.get(row["userSourcedId"])
        if owner is None:
            err(errors, "students", "names a user not in users.csv", where, "userSourcedId")
            continue
        try:
            role = Role(
                row["role"],
                row["roleType"] == "primary",
                row["orgSourcedId"],
                parse_date(row.get("beginDate", ""), "beginDate"),
                parse_date(row.get("endDate", ""), "endDate"),
            )
        except Bad as bad:
            err(errors, "students", bad.reason, where, bad.column)
            continue
        owner.roles.append(role)
    return users


def _student_role(u: User, today: dt.date) -> Role | None:
    """The student role that says where and whether the student is on roll."""
    found = [r for r in u.roles if r.role == "student"]
    if not found:
        return None
    order = {"current": 0, "future": 1, "ended": 2}
    return min(
        found, key=lambda r: (order[r.state(today)], not r.primary, -(r.end or dt.date.min).toordinal())
    )


def student_key(u: User, options: Options) -> str | None:
    how = options.student_id
    if how == "sourcedId":
        return u.sid
    if how == "identifier":
        return u.row.get("identifier") or None
    return typed_ids(u.row.get("userIds", "")).get(how.removeprefix("userIds:")) or None


def build_people(
    tables: Tables,
    options: Options,
    today: dt.date,
    schools: set[str],
    homerooms: dict[str, str],
    users: dict[str, User],
    errors: dict[str, list[RecordError]],
) -> People:
    births: dict[str, tuple[str, str]] = {}
    if tables.supplied("demographics"):
        for where, row in tables.rows("demographics"):
            births[row["sourcedId"]] = (where, row.get("birthDate", ""))
    students: dict[str, rec.Student] = {}
    keys: dict[str, str] = {}
    owner: dict[str, str] = {}  # student source id -> the users row that has it
    for u in users.values():
        role = _student_role(u, today)
        if role is None:
            continue
        school = (
            role.org
            if role.org in schools or not u.row.get("primaryOrgSourcedId")
            else u.row["primaryOrgSourcedId"]
        )
        if school not in schools:
            continue  # a student of a school this connector does not serve
        key = student_key(u, options)
        if key is None:
            column = "identifier" if options.student_id == "identifier" else "userIds"
            err(
                errors,
                "students",
                f"no {options.student_id} for this student (options.student_id)",
                u.where,
                column,
            )
            continue
        if key in owner:
            err(
                errors,
                "students",
                f"another student ({owner[key]}) has the same {options.student_id}",
                u.where,
            )
            continue
        birth_where, birth = births.get(u.sid, ("", ""))
        try:
            dob = parse_date(birth, "birthDate")
        except Bad as bad:
            err(errors, "students", bad.reason, birth_where, bad.column)
            continue
        if dob is None:
            err(
                errors,
                "students",
                "no birthDate in demographics.csv (needed for the coming-of-age rule)",
                u.where,
                "birthDate",
            )
            continue
        state = role.state(today)
        status = {
            "current": rec.EnrollmentStatus.ACTIVE,
            "future": rec.EnrollmentStatus.PRE_REGISTERED,
            "ended": rec.EnrollmentStatus.TRANSFERRED,
        }[state]
        grades = items(u.row.get("grades", ""))
        owner[key] = u.where
        keys[u.sid] = key
        students[u.sid] = rec.Student(
            source_id=key,
            school_id=school,
            legal_first_name=u.row["givenName"],
            legal_last_name=u.row["familyName"],
            preferred_first_name=u.row.get("preferredGivenName") or None,
            preferred_last_name=u.row.get("preferredFamilyName") or None,
            date_of_birth=dob,
            grade_level=grades[0] if grades else "",
            homeroom=homerooms.get(u.sid),
            enrollment_status=status,
            entry_date=role.begin,
            exit_date=role.end,  # exclusive: the first day no longer on roll
            email=u.row.get("email") or None,
        )
    contacts, relationship = _contacts(users, options, today)
    roles = ", ".join(options.contact_roles)
    deleted = tables.deleted.get("users", set())
    links = _links(users, students, keys, contacts, relationship, options.policy(), roles, deleted, errors)
    return People(users, students, keys, contacts, links, errors)


def _contacts(
    users: dict[str, User], options: Options, today: dt.date
) -> tuple[dict[str, rec.Contact], dict[str, str]]:
    rank = {r: i for i, r in enumerate(options.contact_roles)}
    contacts: dict[str, rec.Contact] = {}
    relationship: dict[str, str] = {}
    for u in users.values():
        roles = [r.role for r in u.roles if r.role in rank and r.state(today) == "current"]
        if not roles:
            continue
        relationship[u.sid] = min(roles, key=rank.__getitem__)
        contacts[u.sid] = rec.Contact(
            source_id=u.sid,
            first_name=u.row["givenName"],
            last_name=u.row["familyName"],
            title=None,
            email=u.row.get("email") or None,
            phone=u.row.get("sms") or u.row.get("phone") or None,
        )
    return contacts, relationship


def _links(
    users: dict[str, User],
    students: dict[str, rec.Student],
    keys: dict[str, str],
    contacts: dict[str, rec.Contact],
    relationship: dict[str, str],
    policy: Policy,
    roles: str,
    deleted: set[str],
    errors: dict[str, list[RecordError]],
) -> list[rec.StudentContact]:
    pairs: dict[tuple[str, str], str] = {}  # (student user, contact user) -> where first stated
    for u in users.values():
        for agent in items(u.row.get("agentSourcedIds", "")):
            if agent not in users:
                # A user a delta deleted may still be named by rows the delta did not re-send
                # (the binding does not cascade): nothing to link, nothing wrong with the row.
                if agent not in deleted:
                    err(errors, "contacts", "names a user not in users.csv", u.where, "agentSourcedIds")
                continue
            if u.sid in students and agent in contacts:
                pairs.setdefault((u.sid, agent), u.where)
            elif u.sid in contacts and agent in students:
                pairs.setdefault((agent, u.sid), u.where)
            elif u.sid in students or agent in students:
                err(
                    errors,
                    "contacts",
                    f"links a student with a user who has no current {roles} role",
                    u.where,
                    "agentSourcedIds",
                )
    links = []
    for student, contact in pairs:
        try:
            enabled = parse_bool(users[contact].row.get("enabledUser", ""), "enabledUser")
        except Bad as bad:
            err(errors, "contacts", bad.reason, users[contact].where, bad.column)
            continue
        if enabled is None and "enabled" in policy.fields() - policy.blank_tested():
            err(
                errors, "contacts", "blank, and the access rule tests it", users[contact].where, "enabledUser"
            )
            continue
        decision = policy.decide({"relationship": relationship[contact], "enabled": enabled})
        links.append(
            rec.StudentContact(
                source_id=f"{keys[student]}-{contact}",
                student_id=keys[student],
                contact_id=contact,
                relationship=relationship[contact],
                parental_responsibility=None,
                portal_access=None,
                lives_with=None,
                court_order=None,
                priority=None,
                entitled=decision.granted,
                access_rule=decision.rule,
            )
        )
    return links
