"""A connector type driven by a small JSON file, for CLI, scheduler and kill -9 tests.

The file says how many students the source has, a version tag written into every
record (so two versions differ in content), and whether the source is down. Tests
rewrite it between runs; subprocesses register the type with :func:`install`.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from config.errors import SourceUnavailableError
from connectors import registry
from connectors.base import CheckResult, Page, StreamInfo
from connectors.records import Contact, EnrollmentStatus, Record, Student, StudentContact


class FakeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state_file: str
    page_size: int = 50
    page_delay: float = 0.0


def write_state(path: Path, students: int, version: str = "a", down: bool = False) -> None:
    path.write_text(json.dumps({"students": students, "version": version, "down": down}))


def records(students: int, version: str) -> dict[str, list[Record]]:
    studs = [
        Student(
            source_id=f"{i:05d}",
            school_id="100",
            legal_first_name=f"First{i}",
            legal_last_name=f"Last{i}",
            preferred_first_name=None,
            preferred_last_name=None,
            date_of_birth=dt.date(2012, 1, 1 + i % 28),
            grade_level="8",
            homeroom=f"8{version}",
            enrollment_status=EnrollmentStatus.ACTIVE,
            entry_date=dt.date(2020, 9, 1),
            exit_date=None,
        )
        for i in range(students)
    ]
    contacts: list[Record] = []
    for i, s in enumerate(studs):
        contacts.append(
            Contact(
                source_id=f"c{i}",
                first_name=f"P{i}",
                last_name=f"Last{i}",
                title=None,
                email=f"p{i}@example.org",
                phone=None,
            )
        )
        contacts.append(
            StudentContact(
                source_id=f"{s.source_id}-c{i}",
                student_id=s.source_id,
                contact_id=f"c{i}",
                relationship="Mother",
                parental_responsibility=True,
                portal_access=True,
                lives_with=True,
                court_order=False,
                priority=1,
            )
        )
    return {"students": list(studs), "contacts": contacts}


class FileSource:
    def __init__(self, name: str, options: FakeOptions) -> None:
        self.name = name
        self.options = options
        self.state: dict[str, Any] = json.loads(Path(options.state_file).read_text())
        self.data = records(self.state["students"], self.state["version"])

    def streams(self) -> list[StreamInfo]:
        return [StreamInfo("students", ("student",)), StreamInfo("contacts", ("contact", "link"))]

    def check(self) -> CheckResult:
        return CheckResult()

    def read(self, stream: str, state: str | None, *, full: bool = False) -> Iterator[Page]:
        if self.state["down"]:
            raise SourceUnavailableError("connection refused")
        recs = self.data[stream]
        size = self.options.page_size
        for i in range(0, len(recs), size):
            if self.options.page_delay:
                time.sleep(self.options.page_delay)
            yield Page(records=recs[i : i + size], full=True, expected_total=len(recs))

    def close(self) -> None:
        pass


CONNECTOR_TYPE = registry.ConnectorType("fake", FakeOptions, lambda name, opts, _ctx: FileSource(name, opts))


def install() -> None:
    """Make ``type: fake`` resolvable in this process."""
    registry._BUILTINS["fake"] = "tests.fake_source:CONNECTOR_TYPE"


def write_config(tmp_path: Path, db_url: str, *, migrate: bool = True, **connector: Any) -> Path:
    """A YAML config with one ``fake`` connector named ``sis`` reading ``tmp_path/source.json``,
    its databases upgraded as ``portico db upgrade`` would (unless ``migrate`` is False)."""
    import yaml

    from cache.migrations import runner as migrations

    key_file = tmp_path / "kek.key"
    if not key_file.exists():
        from cache.keys.crypto import new_kek_line

        key_file.write_text(new_kek_line("kek-test") + "\n")
    sis: dict[str, Any] = {
        "name": "sis",
        "type": "fake",
        "options": {"state_file": str(tmp_path / "source.json")},
        **connector,
    }
    raw = {
        "district": {"name": "Test District", "timezone": "America/New_York"},
        "cache": {
            "url": db_url,
            "kek": {"file": str(key_file)},
            "keystore_url": f"sqlite:///{tmp_path / 'keys.db'}",
        },
        "connectors": [sis],
        "logging": {"format": "json"},
    }
    path = tmp_path / "portico.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    if migrate:
        migrations.upgrade(db_url, f"sqlite:///{tmp_path / 'keys.db'}")
    return path


if __name__ == "__main__":
    install()
    from gateway.cli import main

    main()
