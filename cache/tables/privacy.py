"""Privacy tables: purged subjects (the re-import rule), deletion certificates, correction requests.

None of these rows carries personal data in clear: subjects are named by their opaque
ref (a keyed blind index), and a correction request's text is encrypted under the
student's own data key, so purging the student erases it too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, LargeBinary, String
from sqlmodel import Field, SQLModel

from cache.tables.core import core_table
from cache.types import UtcDateTime


class PurgedSubject(SQLModel, table=True):
    """A purged student (or a contact purged with them): consulted by every sync.

    The rule: a purged student's records are skipped at every later sync, unless the
    SIS still has the student enrolled *and* the purge was not ``blocked`` by the
    district; then the student comes back (``returned_at`` is set) with their contacts.
    """

    __tablename__ = "purged_subject"
    __table_args__ = (Index("ix_purged_source", "source", "returned_at"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(sa_type=String(40))
    subject: str = Field(sa_type=String(16))  # student | contact | district
    ref: str = Field(sa_type=String(24))  # "*" for subject "district"
    via_ref: str | None = Field(default=None, sa_type=String(24))  # a contact's purged student
    purged_at: dt.datetime = Field(sa_type=UtcDateTime)
    reason_code: str = Field(sa_type=String(40))
    blocked: bool = True
    certificate_id: str = Field(sa_type=String(40))
    returned_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)


class DeletionCertificate(SQLModel, table=True):
    """What was deleted, when, by whom, and which data keys were destroyed: no personal data."""

    __tablename__ = "deletion_certificate"

    id: str = Field(primary_key=True, sa_type=String(40))
    created_at: dt.datetime = Field(sa_type=UtcDateTime)
    operator: str = Field(sa_type=String(64))
    reason_code: str = Field(sa_type=String(40))
    scope: str = Field(sa_type=String(16))  # student | leavers | district
    source: str | None = Field(default=None, sa_type=String(40))
    body: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class CorrectionRequest(SQLModel, table=True):
    """A guardian's or student's request that the school correct its records (never the SIS)."""

    __tablename__ = "correction_request"
    __table_args__ = (Index("ix_correction_student", "source", "student_ref", "created_at"),)

    id: str = Field(primary_key=True, sa_type=String(32))
    source: str = Field(sa_type=String(40))
    student_ref: str = Field(sa_type=String(24))
    account_id: str = Field(sa_type=String(32))
    school_id_index: str | None = Field(default=None, sa_type=String(24))
    key_id: str = Field(sa_type=String(40))
    body_enc: bytes = Field(sa_type=LargeBinary)  # {"about", "message"} under the student's key
    status: str = Field(default="open", sa_type=String(16))  # open | resolved | rejected
    created_at: dt.datetime = Field(sa_type=UtcDateTime)
    notified_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    resolved_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    resolved_by: str | None = Field(default=None, sa_type=String(64))
    note_enc: bytes | None = Field(default=None, sa_type=LargeBinary)


PURGED = core_table(PurgedSubject)
CERTIFICATES = core_table(DeletionCertificate)
CORRECTIONS = core_table(CorrectionRequest)
