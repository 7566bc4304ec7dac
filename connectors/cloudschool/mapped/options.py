"""The mapped layout's YAML: raw files (``sources``) and the records built from them (``records``).

```yaml
sources:
  pm: {file: student-import.csv, date_format: "%d/%m/%Y"}
records:
  students:
    from: pm
    fields: {StudentID: StudentID, LegalForename: StudentForename, ...}
```

A record mapping names its source, may ``join`` other sources by key, ``explode`` a
list held in one cell into one row per item, keep only the rows ``where`` holds, and
fills each column of the record (the preset's column names, plus the link columns
below) from an expression: a column name, or ``{column, map, replace, other, default,
optional}``, ``{const}``, ``{template}``. One source may feed several records, and a
record may be a list of mappings whose rows are unioned (a link stated on either side).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Scalar = str | int | float | bool


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Source(Strict):
    """One raw file and how to read its cells."""

    file: str = Field(min_length=1)
    format: Literal["csv", "xml"] = "csv"
    # XML: the path of the repeated record element, e.g. SuperStarReport/Record (SIMS CommandReporter).
    record: str | None = None
    encoding: str | None = None  # default: the connector's (auto)
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    date_format: str | None = None
    datetime_format: str | None = None
    flag_true: list[str] | None = None
    flag_false: list[str] | None = None
    # Cells that mean "no value" besides a blank one (Arbor writes NULL).
    null: list[str] = Field(default_factory=list)
    allow_empty: bool = False

    @field_validator("flag_true", "flag_false", "null", mode="before")
    @classmethod
    def _yaml_words(cls, value: object) -> object:
        # Unquoted in YAML, TRUE, FALSE and NULL arrive as true, false and null; words are
        # compared without case, so their spelling back as text matches the file's cells.
        if isinstance(value, list):
            return [
                ("true" if v else "false") if isinstance(v, bool) else "null" if v is None else v
                for v in value
            ]
        return value

    @model_validator(mode="after")
    def _xml(self) -> Source:
        if self.format == "xml" and not self.record:
            raise ValueError("an xml source needs record: the path of its repeated element")
        if self.format == "csv" and self.record:
            raise ValueError("record applies to xml sources only")
        true = {v.strip().casefold() for v in self.flag_true or []}
        if true & {v.strip().casefold() for v in self.flag_false or []}:
            raise ValueError("flag_true and flag_false share a value")
        return self


class Expr(Strict):
    """How one record column is filled (see module docstring)."""

    column: str | None = None
    const: Scalar | None = None
    template: str | None = None  # "{APPLICATION_ID}:{STUDENT_ID}"
    map: dict[str, str] | None = None  # exact values (case and spaces ignored) -> value
    replace: list[tuple[str, str]] | None = None  # [regex, replacement]: the first that matches
    other: Literal["error", "keep", "blank"] = "error"  # a value neither map nor replace knows
    default: Scalar | None = None  # for a blank cell or an absent optional column
    optional: bool = False  # the column may be missing from the file

    @model_validator(mode="after")
    def _one_source(self) -> Expr:
        given = [k for k in ("column", "const", "template") if k in self.model_fields_set]
        if len(given) != 1:
            raise ValueError("an expression takes exactly one of column, const or template")
        for pattern, _ in self.replace or []:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"replace: {pattern!r} is not a regular expression ({exc})") from None
        return self

    def columns(self) -> list[str]:
        if self.column is not None:
            return [self.column]
        if self.template is not None:
            return re.findall(r"\{([^{}]+)\}", self.template)
        return []


Field_ = str | Expr
Test = Scalar | list[Scalar] | dict[str, object]


class Join(Strict):
    """Rows of another source matched by key: their columns are named ``alias.Column``."""

    source: str
    on: dict[str, str] = Field(min_length=1)  # their column -> our column
    required: bool = True  # a row with no match is set aside (False: the joined columns are blank)


class Explode(Strict):
    """One row per item of a list held in one cell (``"p-2001,p-2002"``)."""

    column: str
    separator: str = Field(default=",", min_length=1)


class RecordMapping(Strict):
    """One way of building records of one kind from one source."""

    source: str = Field(alias="from")
    join: dict[str, Join] = Field(default_factory=dict)
    explode: Explode | None = None
    where: dict[str, Test] = Field(default_factory=dict)
    fields: dict[str, Field_]

    @field_validator("where")
    @classmethod
    def _tests(cls, where: dict[str, Test]) -> dict[str, Test]:
        for column, test in where.items():
            if isinstance(test, dict):
                unknown = set(test) - {"not", "blank"}
                if unknown or not test:
                    raise ValueError(
                        f"where.{column}: a comparison is {{not: [...]}} or {{blank: true|false}}"
                    )
        return where


# A contact list keeps contacts and links apart (they may come from different files).
CONTACT_COLUMNS = ("ContactID", "Title", "ContactForename", "ContactSurname", "PrimaryEmail", "MobileNumber")
CONTACT_REQUIRED = ("ContactID", "ContactForename", "ContactSurname")
LINK_COLUMNS = (
    "StudentID",
    "ContactID",
    "Relationship",
    "Priority",
    "ParentalResponsibility",
    "LivesWith",
    "CourtOrder",
    "PortalAccess",
    "Enabled",
    "PrimaryGuardian",
)
LINK_REQUIRED = ("StudentID", "ContactID")
# link column -> the attribute an access rule tests (connectors.rules.LINK_FIELDS)
LINK_ATTRIBUTES = {
    "Relationship": "relationship",
    "Priority": "priority",
    "ParentalResponsibility": "parental_responsibility",
    "LivesWith": "lives_with",
    "CourtOrder": "court_order",
    "PortalAccess": "portal_access",
    "Enabled": "enabled",
    "PrimaryGuardian": "primary_guardian",
}
