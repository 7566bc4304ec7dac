"""A small synthetic district synced into a cache, with guardian accounts: shared by the privacy tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from cache.store import Cache, open_cache
from cache.types import utcnow
from config.settings import PorticoConfig
from gateway.access import accounts
from gateway.access.security import hash_password
from gateway.api.app import create_app
from gateway.bootstrap import build_application
from simulators.district.synthetic import DistrictSpec, SyntheticDistrict
from tests.fakes import ListConnector, make_config

PASSWORD = "Correct horse battery 9"


def connector(d: SyntheticDistrict) -> ListConnector:
    streams = {kind: list(d.iter(kind)) for kind in d.kinds()}
    return ListConnector("sis", streams, page_size=500)


@dataclass
class World:
    config: PorticoConfig
    cache: Cache
    district: SyntheticDistrict
    users: dict[str, str]  # label -> username
    tmp: Path

    def ref(self, kind: str, source_id: str) -> str:
        return self.cache.keyring.index.ref("sis", kind, source_id)

    def sync(self, d: SyntheticDistrict | None = None) -> Any:
        """A full sync the way every process runs one: through the bootstrap, with its hooks."""
        app = build_application(self.config, base_dir=self.tmp, cache=self.cache)
        out = app.sync("sis", connector=connector(d or self.district), full=True)
        assert out.status == "published", (out.status, out.hold_reasons, out.error)
        return out


def build_world(
    tmp: Path,
    db_url: str,
    students: int = 24,
    privacy: dict[str, Any] | None = None,
    mail: dict[str, Any] | None = None,
    **overrides: Any,
) -> World:
    config, secrets = make_config(
        tmp,
        db_url,
        mail=mail or {"backend": "outbox", "outbox_dir": str(tmp / "outbox")},
        privacy={"district_data_contact": "records@district.example.org", **(privacy or {})},
        **overrides,
    )
    cache = open_cache(config, secrets)
    d = SyntheticDistrict(DistrictSpec(seed=11, students=students, schools=2))
    w = World(config, cache, d, {}, tmp)
    w.sync()
    student, mum, dad = d.cases.split_household
    # Provisioning (an after-publish hook) made their accounts: activate them as invitations would.
    with cache.engine.begin() as conn:
        for label, subject in (
            ("mum", w.ref("contact", mum)),
            ("dad", w.ref("contact", dad)),
            ("kid", w.ref("student", student)),
        ):
            account = accounts.find_by_subject(conn, "sis", subject)
            assert account is not None, label
            w.users[label] = accounts.username_of(cache.keyring, account)
            accounts.set_fields(
                conn,
                account.id,
                status="active",
                password_hash=hash_password(PASSWORD),
                password_changed_at=utcnow(),
                aup_version=config.access.aup.version,
                aup_accepted_at=utcnow(),
            )
    return w


def client_for(w: World) -> TestClient:
    return TestClient(create_app(w.config, w.cache))


def login(c: TestClient, username: str) -> dict[str, str]:
    r = c.post("/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def write_config_yaml(w: World) -> Path:
    """The world's config as a YAML file, for driving the ``portico`` CLI (another process's view)."""
    import yaml

    path = w.tmp / "portico.yaml"
    path.write_text(yaml.safe_dump(w.config.model_dump(mode="json", exclude_none=True)))
    return path
