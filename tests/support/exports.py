"""Real-format exports through the whole application: YAML mappings, syncs, accounts, the API.

The mappings below are the ones ``connectors/cloudschool/README.md`` and
``connectors/oneroster/README.md`` show a district (as Python dicts), so the tests prove the
documented YAML reads the files. Fixtures: ``tests/support/data/uk/`` (see its SOURCE.md) and
``tests/support/oneroster.py``.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from cache.store import open_cache
from config.settings import PorticoConfig
from connectors.base import Connector
from connectors.cloudschool.connector import CloudSchoolConnector
from connectors.cloudschool.options import Options as CsvOptions
from connectors.oneroster.connector import OneRosterConnector
from connectors.oneroster.options import Options as RosterOptions
from gateway.access import accounts, sessions
from gateway.access.security import hash_password
from gateway.api.app import create_app
from gateway.bootstrap import Application, build_application
from gateway.ops.mail import OutboxMailer
from gateway.sync.engine import SyncOutcome
from tests.support.config import make_config

UK = Path(__file__).resolve().parent / "data" / "uk"
DFE_CODES = Path(__file__).resolve().parent / "data" / "dfe-attendance-codes-2024.csv"
# The day the connectors read the exports (roles and enrolments are dated).
READ_AT = dt.datetime(2025, 12, 8, 12, 0, tzinfo=dt.UTC)

ONEROSTER_RULE = [
    {
        "grant": "parents and guardians enabled in the SIS",
        "when": {"relationship": ["parent", "guardian"], "enabled": True},
    }
]

ARBOR_SOURCE = {
    "file": "attendance.csv",
    "date_format": "%Y-%m-%d",
    "flag_true": ["TRUE"],
    "flag_false": ["FALSE"],
    "null": ["NULL"],
}
ARBOR_ATTENDANCE = {
    "from": "arbor",
    "where": {"RAW_MARK": {"blank": False}},  # a register not yet taken is all NULL
    "fields": {
        "StudentID": "STUDENT_ID",
        "Date": "DATE",
        "Session": {"column": "PERIOD", "map": {"MORNING": "AM", "AFTERNOON": "PM"}},
        "Mark": "RAW_MARK",
        "MinutesLate": {"column": "MINUTES_LATE", "optional": True},
    },
}

PARENTMAIL_SOURCE = {"file": "student-import.csv", "date_format": "%d/%m/%Y"}
PARENTMAIL_RECORDS = {
    "students": {
        "from": "pm",
        "fields": {
            "StudentID": "StudentID",
            "LegalForename": "StudentForename",
            "LegalSurname": "StudentSurname",
            "DOB": "DOB",
            "Gender": "Gender",
            "Year": {"column": "Year", "replace": [["Year\\s*(\\d+)", "\\1"]], "map": {"Reception": "R"}},
            "Reg": "Reg",
        },
    },
    "contacts": {
        "from": "pm",
        "fields": {
            "ContactID": "ContactID",
            "Title": {"column": "Title", "optional": True},
            "ContactForename": "ContactForename",
            "ContactSurname": "ContactSurname",
            "PrimaryEmail": "PrimaryEmail",
            "MobileNumber": {"column": "MobileNumber", "optional": True},
        },
    },
    "links": {
        "from": "pm",
        "fields": {
            "StudentID": "StudentID",
            "ContactID": "ContactID",
            "Relationship": "Relationship",
            "Priority": "Priority",
        },
    },
}
# The district's rule for a list that carries no access flags: the primary contact, if a parent.
PARENTMAIL_RULE = [
    {
        "grant": "the first contact, when a parent or guardian",
        "when": {
            "priority": 1,
            "relationship": ["Mother", "Father", "Guardian", "Step Mother", "Step Father"],
        },
    }
]


def uk_folder(dest: Path, *names: str) -> Path:
    """The UK fixtures copied into ``dest`` under the names an export would use."""
    dest.mkdir(parents=True, exist_ok=True)
    renames = {
        "arbor-attendance.csv": "attendance.csv",
        "parentmail-student-import.csv": "student-import.csv",
    }
    for name in names:
        shutil.copyfile(UK / name, dest / renames.get(name, name))
    return dest


def csv_connector(name: str, options: dict[str, Any], base: Path) -> CloudSchoolConnector:
    return CloudSchoolConnector(
        name, CsvOptions.model_validate(options), base_dir=base, clock=lambda: READ_AT
    )


def roster_connector(name: str, options: dict[str, Any], base: Path) -> OneRosterConnector:
    return OneRosterConnector(
        name, RosterOptions.model_validate(options), base_dir=base, clock=lambda: READ_AT
    )


PASSWORD = "Correct horse battery 9"


@dataclass
class Env:
    """A configured Portico over real-format exports, with its API."""

    app: Application
    base: Path
    _client: TestClient | None = field(default=None)

    @property
    def config(self) -> PorticoConfig:
        return self.app.config

    def connector(self, name: str) -> Connector:
        cs = self.config.connector(name)
        make = roster_connector if cs.type == "oneroster" else csv_connector
        return make(name, cs.options, self.base)

    def sync(self, name: str) -> SyncOutcome:
        return self.app.sync(name, connector=self.connector(name))

    @property
    def client(self) -> TestClient:
        if self._client is None:
            self._client = TestClient(create_app(self.config, self.app.cache))
        return self._client

    def ref(self, source: str, kind: str, source_id: str) -> str:
        return self.app.cache.keyring.index.ref(source, kind, source_id)

    def guardian(self, source: str, contact_id: str) -> dict[str, str] | None:
        """Bearer headers for the contact's account (made by provisioning), or None if it has none."""
        cache = self.app.cache
        with cache.engine.begin() as conn:
            account = accounts.find_by_subject(conn, source, self.ref(source, "contact", contact_id))
            if account is None:
                return None
            accounts.set_fields(
                conn,
                account.id,
                status="active",
                password_hash=hash_password(PASSWORD),
                aup_version=self.config.access.aup.version,
                aup_accepted_at=dt.datetime.now(dt.UTC),
                password_changed_at=dt.datetime.now(dt.UTC),
            )
            token, _ = sessions.create(conn, account.id, self.config.access)
        return {"Authorization": f"Bearer {token}"}

    def visible(self, headers: dict[str, str]) -> set[str]:
        r = self.client.get("/v1/students", headers=headers)
        assert r.status_code == 200, r.text
        return {s["id"] for s in r.json()["data"]}

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        self.app.dispose()


def environment(tmp_path: Path, db_url: str, connectors: list[dict[str, Any]]) -> Env:
    config, secrets = make_config(
        tmp_path,
        db_url,
        connectors=connectors,
        district={"name": "Ashdown Learning Trust", "timezone": "Europe/London"},
        api={"max_range": "P800D"},  # the fixtures hold a record from July 2024 beside November 2025
    )
    cache = open_cache(config, secrets)
    app = build_application(
        config, base_dir=tmp_path, secrets=secrets, cache=cache, mailer=OutboxMailer(config.mail, tmp_path)
    )
    return Env(app, tmp_path)
