"""Options of the OneRoster CSV connector (``type: oneroster``)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config.settings import TimeZoneName
from connectors.rules import Policy, Rule, label_problems

# What a OneRoster link carries for an access rule to test: the adult's role and
# whether their account is enabled. The binding has no priority, parental
# responsibility or court-order field.
LINK_ATTRIBUTES = {"relationship", "enabled"}


class Options(BaseModel):
    """``options:`` of a ``type: oneroster`` connector."""

    # A misspelt option silently ignored is a mapping not applied: unknown keys are errors.
    model_config = ConfigDict(extra="forbid", frozen=True)

    # A bundle (a .zip, or a folder holding manifest.csv), or a folder of bundles applied
    # in order: the newest bulk file of each kind and every delta after it.
    path: str = Field(min_length=1)
    order: Literal["name", "modified"] = "name"  # how bundles in a folder are ordered
    # Which of a student's identifiers other sources use for them (``students_of``):
    # sourcedId, identifier, or a typed entry of userIds such as userIds:UPN.
    student_id: str = "sourcedId"
    contact_roles: list[str] = Field(default_factory=lambda: ["parent", "guardian", "relative"], min_length=1)
    schools: list[str] = Field(default_factory=list)  # org sourcedIds; empty: every school org
    timezone: TimeZoneName = "UTC"  # OneRoster dates carry no zone: the schools' local time
    year_start_date: dt.date | None = None  # default: the current schoolYear session
    year_end_date: dt.date | None = None
    # The district's written access rule (connectors.rules): required, nothing is granted by default.
    access: list[Rule]
    settle_seconds: float = Field(default=60.0, ge=0)
    max_rejected: int = Field(default=100, ge=0)
    page_size: int = Field(default=5000, ge=1)
    # A bound on each file inside a zip once inflated (a zip bomb stops here).
    max_file_bytes: int = Field(default=2 * 1024**3, ge=1024)

    @field_validator("student_id")
    @classmethod
    def _key(cls, value: str) -> str:
        if value not in ("sourcedId", "identifier") and not re.fullmatch(r"userIds:[^:{}\s]+", value):
            raise ValueError("one of sourcedId, identifier, or userIds:<type> (e.g. userIds:UPN)")
        return value

    @model_validator(mode="after")
    def _rule(self) -> Options:
        problems = label_problems(self.access)
        missing = Policy(self.access).unmapped(LINK_ATTRIBUTES)
        problems += [
            f"access: OneRoster links carry no {name} (only relationship, the adult's role, and enabled)"
            for name in missing
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def policy(self) -> Policy:
        return Policy(self.access)
