"""Simulator over loopback HTTP → PowerSchool connector → encrypted cache → parent API.

Also the at-rest proof: after a sync, the raw bytes of the cache, its WAL and the
keystore hold no generated name, email, date of birth, phone number or SIS id.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cache.store import open_cache
from config.secrets import SecretResolver
from connectors import registry
from gateway.api.app import create_app
from gateway.sync.engine import SyncEngine
from simulators.district.synthetic import DistrictSpec, SyntheticDistrict
from simulators.powerschool.model import CONNECTOR_OPTIONS
from simulators.powerschool.server import make_app, run_in_thread
from tests.support.config import make_config
from tests.support.world import add_guardian

CID, SECRET = "e2e-client", "e2e-secret-value"
TODAY = dt.date.today()


@pytest.fixture(scope="module")
def district() -> SyntheticDistrict:
    return SyntheticDistrict(DistrictSpec(seed=3, schools=2, students=60, today=TODAY))


@contextmanager
def _synced(tmp_path: Path, db_url: str, district: SyntheticDistrict) -> Iterator[tuple]:
    app = make_app(district, client_id=CID, client_secret=SECRET, v1_page_cap=25, schema_page_cap=500)
    base_url, stop = run_in_thread(app)
    config, _ = make_config(tmp_path, db_url)
    cache = open_cache(config, SecretResolver(base_dir=tmp_path))
    ctx = registry.BuildContext(secrets=SecretResolver(env={"PS_ID": CID, "PS_SECRET": SECRET}))
    connector = registry.build(
        "powerschool",
        "sis",
        {
            "base_url": base_url,
            "client_id": {"env": "PS_ID"},
            "client_secret": {"env": "PS_SECRET"},
            **CONNECTOR_OPTIONS,
        },
        ctx,
    )
    try:
        outcome = SyncEngine(cache.engine, cache.keyring, config, config.connectors[0]).run(connector)
        yield cache, config, outcome, app.state.sim
    finally:
        connector.close()
        stop()
        cache.dispose()


@pytest.fixture
def synced(tmp_path: Path, db_url: str, district: SyntheticDistrict):
    with _synced(tmp_path, db_url, district) as out:
        yield out


def test_a_full_sync_over_http_publishes_every_record_and_writes_nothing(synced, district) -> None:
    _, _, outcome, sim = synced
    assert outcome.status == "published", outcome
    for kind in district.kinds():
        assert outcome.counts[kind]["added"] == district.count(kind), kind
        assert outcome.counts[kind]["rejected"] == 0
    assert sim.writes == 0 and sim.requests > 0


def test_a_guardian_reads_exactly_their_children_and_attendance_through_the_api(synced, district) -> None:
    cache, config, _, _ = synced
    contact_id = district.cases.two_child_contact
    contact = district.get("contact", contact_id)
    idx = cache.keyring.index
    add_guardian(cache, contact_id, contact.email, "a long demo passphrase")
    expected = set()
    for link in district.iter("link"):
        if (
            link.contact_id == contact_id
            and link.parental_responsibility
            and link.portal_access
            and not link.court_order
        ):
            st = district.get("student", link.student_id)
            if st.exit_date is None or st.exit_date > TODAY:
                expected.add(idx.ref("sis", "student", link.student_id))
    assert len(expected) == 2
    with TestClient(create_app(config, cache)) as client:
        token = client.post(
            "/v1/auth/login", json={"username": contact.email, "password": "a long demo passphrase"}
        ).json()
        h = {"Authorization": f"Bearer {token['access_token']}"}
        listed = client.get("/v1/students", headers=h).json()
        assert {s["id"] for s in listed["data"]} == expected
        sid = sorted(expected)[0]
        att = client.get(
            f"/v1/students/{sid}/attendance", headers=h, params={"from": str(TODAY - dt.timedelta(days=14))}
        )
        assert att.status_code == 200
        body = att.json()
        assert body["data"], "two weeks of school days have attendance"
        assert body["meta"]["lag"] == "PT30M" and body["meta"]["stale"] is False


def _needles(district: SyntheticDistrict) -> set[bytes]:
    out: set[bytes] = set()
    for s in district.iter("student"):
        out.update(
            {
                f"{s.legal_first_name} {s.legal_last_name}".encode(),
                s.source_id.encode(),
                s.date_of_birth.isoformat().encode(),
                s.date_of_birth.strftime("%m/%d/%Y").encode(),
            }
        )
        if s.email:
            out.add(s.email.encode())
        for name in (s.legal_first_name, s.legal_last_name, s.preferred_first_name):
            if name and len(name) >= 6:  # shorter strings occur by chance in ciphertext
                out.add(name.encode())
    for c in district.iter("contact"):
        out.update({f"{c.first_name} {c.last_name}".encode(), c.source_id.encode()})
        out.update(v.encode() for v in (c.email, c.phone) if v)
    return out


def test_the_database_files_hold_no_personal_data_in_clear(district, tmp_path: Path, sqlite_url: str) -> None:
    with _synced(tmp_path, sqlite_url, district) as (_, _, outcome, _):
        assert outcome.status == "published"
        files = [p for p in tmp_path.iterdir() if p.suffix in (".db",) or p.name.endswith(("-wal", "-shm"))]
        blob = b"".join(p.read_bytes() for p in files)
    assert any(p.name.endswith("-wal") for p in files), "the WAL is scanned too"
    assert any(p.name == "cache.db" for p in files) and any(p.name == "keys.db" for p in files)
    needles = _needles(district)
    assert len(needles) > 300
    # A value counts when it stands alone: a SIS id like 500067 can also occur by chance
    # inside the hex of a key id or a hash (about 1 run in 50), which is not a leak.
    hits = sorted(
        n.decode()
        for n in needles
        if n in blob and re.search(rb"(?<![0-9A-Za-z])" + re.escape(n) + rb"(?![0-9A-Za-z])", blob)
    )
    assert hits == [], f"{len(hits)} personal values found in clear"
