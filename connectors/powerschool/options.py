"""Options of a ``type: powerschool`` connector, as validated from YAML."""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from config.secrets import SecretRef
from config.settings import TimeZoneName
from connectors.powerschool.auth import TOKEN_PATH
from connectors.powerschool.streams import BY_NAME, Choices
from connectors.records import AttendanceCategory, Polarity

_TABLE = re.compile(r"^[a-z][a-z0-9_]{0,29}$")


class Options(BaseModel):
    """``options:`` of a ``type: powerschool`` connector in YAML."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str
    client_id: SecretRef
    client_secret: SecretRef
    page_size: int | None = Field(default=None, ge=1)  # default: the cap /ws/v1/metadata announces
    timeout: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=5, ge=1, le=20)
    # Read only these schools' records (by /ws/v1 school id, SCHOOLS.DCID); contacts,
    # links and notices are read for the whole district.
    school_ids: list[str] | None = None
    token_path: str = TOKEN_PATH
    # Read only these streams (in dependency order whatever the order here).
    streams: list[str] | None = None
    # The district's zone; default: /ws/v1/metadata district_timezone.
    timezone: TimeZoneName | None = None
    # Where contacts are: the contacts tables (PowerSchool 12 and later), or the older
    # guardian fields on STUDENTS (mother, father, guardianemail) where a server has no others.
    contacts: Literal["contacts", "students"] = "contacts"
    # ATTENDANCE_CODE.ATT_CODE -> category. Codes not listed count by their presence
    # status: Present is present, Absent is an unauthorised absence.
    attendance_codes: dict[str, AttendanceCategory] = Field(default_factory=dict)
    # Log types (GEN.NAME where GEN.CAT = 'logtype') read as behaviour, and their polarity;
    # other log types (health, counselling, parent contact ...) are never read.
    log_types: dict[str, Polarity] = Field(default_factory=dict)
    # A district's own tables for notices and progress reports (PowerSchool has no
    # standard table for either); their columns are in docs/powerschool.md.
    notices_table: str | None = None
    reports_table: str | None = None

    @field_validator("streams")
    @classmethod
    def _known_streams(cls, value: list[str] | None) -> list[str] | None:
        unknown = [name for name in value or [] if name not in BY_NAME]
        if unknown:
            raise ValueError(f"unknown stream(s) {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
        return value

    @field_validator("notices_table", "reports_table")
    @classmethod
    def _table(cls, value: str | None) -> str | None:
        if value is not None and not _TABLE.match(value.lower()):
            raise ValueError(
                "expected a table name: letters, digits and _, at most 30, starting with a letter"
            )
        return value.lower() if value else value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            url = urllib.parse.urlsplit(value)
            scheme, host = url.scheme, url.hostname
        except ValueError:  # e.g. an unclosed IPv6 bracket
            scheme, host = "", None
        if scheme not in ("https", "http") or not host:
            raise ValueError("expected an https:// URL of the SIS")
        # Plain http would carry the client secret, tokens and student data in clear text;
        # it is allowed only to this machine (the bundled simulator, a local TLS proxy).
        if scheme == "http" and not _loopback(host):
            raise ValueError("plain http:// is allowed only to a loopback address; use https://")
        return value.rstrip("/")

    def choices(self) -> Choices:
        return Choices(
            legacy_contacts=self.contacts == "students",
            notices_table=self.notices_table,
            reports_table=self.reports_table,
            log_types=bool(self.log_types),
            school_filter=self.school_ids is not None,
        )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
