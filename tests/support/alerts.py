"""A small family for alert tests: two children, a mum who may see both, a dad of the first,
synced through the whole application (hooks, provisioning) with a clock tests move."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cache.store import open_cache
from connectors.records import (
    AttendanceCategory,
    AttendanceMark,
    Audience,
    BehaviourEvent,
    Notice,
    Polarity,
    Record,
)
from gateway.access import accounts, holds
from gateway.bootstrap import Application, build_application
from gateway.sync.engine import SyncOutcome
from tests.support.config import make_config, write_yaml
from tests.support.connectors import ListConnector
from tests.support.records import contact, link, school, student

TODAY = dt.date(2026, 11, 24)  # a Tuesday; New York is UTC-5


def ny(h: int, mi: int = 0, day: dt.date = TODAY) -> dt.datetime:
    """``h:mi`` in New York on ``day``, as UTC."""
    return dt.datetime.combine(day, dt.time(h, mi), dt.UTC) + dt.timedelta(hours=5)


@dataclass
class MovableClock:
    at: dt.datetime

    def __call__(self) -> dt.datetime:
        return self.at


def mark(sid: str, day: dt.date, category: AttendanceCategory, recorded: dt.datetime) -> AttendanceMark:
    return AttendanceMark(
        source_id=f"{sid}-{day}",
        student_id=sid,
        date=day,
        session="AM",
        source_code="X",
        category=category,
        minutes_late=None,
        recorded_at=recorded,
    )


def incident(sid: str, n: int, at: dt.datetime, polarity: Polarity = Polarity.BEHAVIOUR) -> BehaviourEvent:
    return BehaviourEvent(
        source_id=f"{sid}-b{n}",
        student_id=sid,
        occurred_at=at,
        polarity=polarity,
        points=1,
        category="Disruption",
        description="Talking in class",
        staff_name="Mr Teacher",
    )


def notice(
    sid: str, audience: Audience, school_id: str | None, at: dt.datetime, year: str | None = None
) -> Notice:
    return Notice(
        source_id=sid,
        audience=audience,
        school_id=school_id,
        year_group=year,
        section_id=None,
        title=f"Notice {sid}",
        body="The school is closed on Friday.",
        publish_from=at,
        publish_to=None,
    )


@dataclass
class Family:
    app: Application
    clock: MovableClock
    mum: str  # account ids
    dad: str
    records: dict[str, list[Record]] = field(default_factory=dict)

    def sync(self, **extra: list[Record]) -> SyncOutcome:
        streams = {k: list(v) for k, v in self.records.items()}
        for k, v in extra.items():
            streams[k] = streams.get(k, []) + list(v)
        self.records = streams
        out = self.app.sync("sis", connector=ListConnector("sis", streams), full=True)
        assert out.status == "published", out
        return out

    def expand(self) -> int:
        """What a sender's run does first: the publishes' news expanded into the outbox
        (one row per recipient, record and kind); the outbox rows queued."""
        from gateway.alerts import detect

        return detect.expand(self.app.cache, self.app.config, self.clock()).queued

    def activate(self, contact_id: str) -> str:
        """The contact's provisioned account made active, the policy accepted: its id."""
        app = self.app
        with app.cache.engine.begin() as conn:
            ref = app.cache.keyring.index.ref("sis", "contact", contact_id)
            found = accounts.find_by_subject(conn, "sis", ref)
            assert found is not None
            accounts.set_fields(conn, found.id, status="active", aup_version=app.config.access.aup.version)
        return found.id

    def hold(self, subject: str, source_id: str, kind: str, reason: str = "order received") -> None:
        """A hold on a contact's or a student's access, as an officer places one."""
        app = self.app
        with app.cache.engine.begin() as conn:
            holds.place(
                conn,
                app.cache.keyring,
                source="sis",
                subject=subject,
                ref=app.cache.keyring.index.ref("sis", subject, source_id),
                kind=kind,
                reason=reason,
                by="test",
            )


def config_file(fam: Family, path: Path) -> Path:
    """The family's config as YAML for the ``portico`` CLI (in another process or a runner)."""
    raw = fam.app.config.model_dump(mode="json", exclude_none=True)
    raw["alerts"]["quiet_hours"] = None  # whatever the hour the test runs at
    # The CLI checks every connector's options; this one is never contacted.
    os.environ["PORTICO_TEST_UNUSED"] = "unused"
    unused = {"env": "PORTICO_TEST_UNUSED"}
    raw["connectors"][0]["options"] = {
        "base_url": "http://127.0.0.1:9",
        "client_id": unused,
        "client_secret": unused,
    }
    return write_yaml(path, raw)


def base_records() -> dict[str, list[Record]]:
    mum, dad = (
        contact("c1", "Ada", "Parent", "mum@example.org"),
        contact("c2", "Bob", "Parent", "dad@example.org"),
    )
    return {
        "schools": [school("100", "Bay School", "America/New_York")],
        "students": [student(0), student(1)],
        "contacts": [
            mum,
            dad,
            link("00000", "c1"),
            link("00001", "c1"),
            link("00000", "c2", relationship="Father"),
        ],
        "attendance": [
            mark("00000", dt.date(2026, 11, 20), AttendanceCategory.PRESENT, ny(9, day=dt.date(2026, 11, 20)))
        ],
        "behaviour": [],
    }


def family(tmp: Path, db_url: str, smtp_port: int | None = None, **alerts: Any) -> Family:
    """The family synced once (a first snapshot: no alerts) with both parents' accounts active."""
    mail: dict[str, Any] = (
        {"backend": "smtp", "smtp_port": smtp_port, "from_address": "portal@district.example.org"}
        if smtp_port
        else {"backend": "outbox", "outbox_dir": str(tmp / "outbox")}
    )
    config, secrets = make_config(
        tmp,
        db_url,
        alerts={"claim_lease": "PT2S", **alerts},
        mail=mail,
        portal={"public_url": "https://portal.example.org"},
    )
    clock = MovableClock(ny(7))
    app = build_application(
        config, cache=open_cache(config, secrets), secrets=secrets, base_dir=tmp, clock=clock
    )
    fam = Family(app, clock, "", "", base_records())
    fam.sync()
    fam.mum, fam.dad = fam.activate("c1"), fam.activate("c2")
    return fam
