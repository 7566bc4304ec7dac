"""One visibility rule for every reader: a school in another time zone than its district.

The district runs on New York time, the school on Los Angeles time. At 11:00 in New York
it is 08:00 in Los Angeles: the school's same-day attendance (shown from 10:30 school
time) must stay hidden from the data routes and from the export alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from cache.store import open_cache
from connectors.records import AttendanceCategory, AttendanceMark, BehaviourEvent, Polarity
from gateway.access import sessions
from gateway.api.app import create_app
from gateway.sync.engine import SyncEngine
from gateway.web import mount
from gateway.web.i18n import formatter
from tests.support.config import make_config
from tests.support.connectors import ListConnector
from tests.support.records import contact, link, school, student
from tests.support.world import add_guardian

TODAY = dt.date(2026, 11, 24)
# 16:00 UTC: 11:00 in New York (past 10:30), 08:00 in Los Angeles (before 10:30).
NOW = dt.datetime(2026, 11, 24, 16, 0, tzinfo=dt.UTC)


def mark(day: dt.date, recorded: dt.datetime) -> AttendanceMark:
    return AttendanceMark(
        source_id=f"00000-{day}",
        student_id="00000",
        date=day,
        session="AM",
        source_code="N",
        category=AttendanceCategory.UNAUTHORISED_ABSENCE,
        minutes_late=None,
        recorded_at=recorded,
    )


# A behaviour event at 15:00 UTC: 07:00 at the school (Los Angeles), 10:00 in the district.
OCCURRED = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)


def district() -> dict[str, list]:
    bay = school("100", "Bay Elementary", "America/Los_Angeles")
    parent = contact("c1", "Ada", "Parent", "ada@example.org")
    # Recorded an hour before NOW: past the 30-minute lag, so only the same-day rule decides.
    marks = [
        mark(TODAY, NOW - dt.timedelta(hours=1)),
        mark(TODAY - dt.timedelta(days=1), NOW - dt.timedelta(days=1)),
    ]
    return {
        "schools": [bay],
        "students": [student(0)],
        "contacts": [parent, link("00000", "c1")],
        "attendance": marks,
        "behaviour": [
            BehaviourEvent(
                source_id="b1",
                student_id="00000",
                occurred_at=OCCURRED,
                polarity=Polarity.ACHIEVEMENT,
                points=2,
                category="Effort",
                description=None,
                staff_name=None,
            )
        ],
    }


@pytest.fixture
def client(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[TestClient, dict[str, str], str]]:
    config, secrets = make_config(tmp_path, sqlite_url)
    assert config.district.timezone == "America/New_York"
    cache = open_cache(config, secrets)
    out = SyncEngine(cache.engine, cache.keyring, config, config.connectors[0]).run(
        ListConnector("sis", district())
    )
    assert out.status == "published"
    idx = cache.keyring.index
    account_id = add_guardian(cache, "c1", "ada@example.org")
    with cache.engine.begin() as conn:
        token, _ = sessions.create(conn, account_id, config.access)
    app = create_app(config, cache, clock=lambda: NOW)
    mount.install(app)
    # On loopback, so the portal's session cookie is the plain one (no __Host- prefix).
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield (
            c,
            {"Authorization": f"Bearer {token}", "Cookie": f"portico_session={token}"},
            idx.ref("sis", "student", "00000"),
        )
    cache.dispose()


def test_the_export_and_the_data_routes_hide_the_same_marks_in_the_schools_time_zone(
    client: tuple[TestClient, dict[str, str], str],
) -> None:
    c, h, ref = client
    routes = c.get(f"/v1/students/{ref}/attendance?from={TODAY - dt.timedelta(days=3)}", headers=h)
    assert routes.status_code == 200, routes.text
    exported = c.get(f"/v1/students/{ref}/export", headers=h)
    assert exported.status_code == 200, exported.text
    route_days = sorted(m["date"] for m in routes.json()["data"])
    export_days = sorted(m["date"] for m in exported.json()["data"]["records"].get("attendance", []))
    # Today is still before 10:30 at the school: hidden from both, shown by neither.
    assert route_days == export_days == [str(TODAY - dt.timedelta(days=1))]


def test_a_childs_page_shows_times_in_the_schools_zone_not_the_districts(
    client: tuple[TestClient, dict[str, str], str],
) -> None:
    c, h, ref = client
    page = c.get(f"/children/{ref}/behaviour", headers={"Cookie": h["Cookie"], "Accept-Language": "en-US"})
    assert page.status_code == 200, page.text
    school = formatter("en_US", ZoneInfo("America/Los_Angeles")).datetime(OCCURRED)
    district_time = formatter("en_US", ZoneInfo("America/New_York")).datetime(OCCURRED)
    assert school != district_time
    assert school in page.text and district_time not in page.text


def test_a_school_that_changes_its_time_zone_is_followed_from_the_next_snapshot(
    tmp_path: Path, sqlite_url: str
) -> None:
    """The school's zone is remembered per published snapshot, never across them."""
    config, secrets = make_config(tmp_path, sqlite_url)
    cache = open_cache(config, secrets)
    engine = SyncEngine(cache.engine, cache.keyring, config, config.connectors[0])
    assert engine.run(ListConnector("sis", district())).status == "published"
    account_id = add_guardian(cache, "c1", "ada@example.org")
    with cache.engine.begin() as conn:
        token, _ = sessions.create(conn, account_id, config.access)
    ref = cache.keyring.index.ref("sis", "student", "00000")
    h = {"Authorization": f"Bearer {token}"}
    app = create_app(config, cache, clock=lambda: NOW)
    url = f"/v1/students/{ref}/attendance?from={TODAY - dt.timedelta(days=3)}"
    with TestClient(app, base_url="http://127.0.0.1") as c:
        # 08:00 at the school in Los Angeles: today's mark is hidden.
        assert [m["date"] for m in c.get(url, headers=h).json()["data"]] == [
            str(TODAY - dt.timedelta(days=1))
        ]
        moved = district()
        moved["schools"] = [school("100", "Bay Elementary", "America/New_York")]
        assert (
            SyncEngine(cache.engine, cache.keyring, config, config.connectors[0])
            .run(ListConnector("sis", moved))
            .status
            == "published"
        )
        # 11:00 at the school now (New York, past 10:30): today's mark is shown.
        days = sorted(m["date"] for m in c.get(url, headers=h).json()["data"])
        assert days == [str(TODAY - dt.timedelta(days=1)), str(TODAY)]
    cache.dispose()
