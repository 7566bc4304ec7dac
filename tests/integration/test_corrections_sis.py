"""A correction request never reaches the SIS: the PowerSchool-like simulator counts zero writes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi.testclient import TestClient

from cache.store import open_cache
from config.secrets import SecretResolver
from connectors import registry
from gateway.api.app import create_app
from gateway.privacy import corrections
from gateway.sync.engine import SyncEngine
from simulators.district.synthetic import DistrictSpec, SyntheticDistrict
from simulators.powerschool.model import CONNECTOR_OPTIONS
from simulators.powerschool.server import make_app, run_in_thread
from tests.support.config import make_config
from tests.support.world import add_guardian

CID, SECRET = "corr-client", "corr-secret-value"


def test_a_correction_is_mailed_to_the_school_and_the_sis_sees_no_request_and_no_write(
    tmp_path: Path,
) -> None:
    district = SyntheticDistrict(DistrictSpec(seed=5, schools=2, students=24, today=dt.date.today()))
    app = make_app(district, client_id=CID, client_secret=SECRET)
    base_url, stop = run_in_thread(app)
    sim = app.state.sim
    school = district.get("student", district.cases.split_household[0])
    assert school is not None
    config, _ = make_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'cache.db'}",
        mail={"backend": "outbox", "outbox_dir": str(tmp_path / "outbox")},
        privacy={"data_contacts": [{"school_id": school.school_id, "email": "office@school.example.org"}]},
    )
    cache = open_cache(config, SecretResolver(base_dir=tmp_path))
    connector = registry.build(
        "powerschool",
        "sis",
        {
            "base_url": base_url,
            "client_id": {"env": "PS_ID"},
            "client_secret": {"env": "PS_SECRET"},
            **CONNECTOR_OPTIONS,
        },
        registry.BuildContext(secrets=SecretResolver(env={"PS_ID": CID, "PS_SECRET": SECRET})),
    )
    try:
        engine = SyncEngine(cache.engine, cache.keyring, config, config.connectors[0])
        assert engine.run(connector).status == "published"
        kid, mum, _ = district.cases.split_household
        idx = cache.keyring.index
        add_guardian(cache, mum, "mum@portal.example.net", "a long demo passphrase")
        requests_before = sim.requests
        with TestClient(create_app(config, cache)) as c:
            token = c.post(
                "/v1/auth/login",
                json={"username": "mum@portal.example.net", "password": "a long demo passphrase"},
            ).json()["access_token"]
            r = c.post(
                f"/v1/students/{idx.ref('sis', 'student', kid)}/corrections",
                headers={"Authorization": f"Bearer {token}"},
                json={"about": "date of birth", "message": "The date of birth is wrong."},
            )
        assert r.status_code == 201
        assert sim.requests == requests_before and sim.writes == 0  # Portico did not even call the SIS
        with cache.engine.begin() as conn:
            assert corrections.resolve(conn, cache.keyring, r.json()["data"]["id"], status="resolved", by="t")
        assert engine.run(connector, full=True).status == "published"
        assert sim.writes == 0
        mails = list((tmp_path / "outbox").glob("*.eml"))
        assert len(mails) == 1 and "To: office@school.example.org" in mails[0].read_text()
    finally:
        connector.close()
        stop()
        cache.dispose()
