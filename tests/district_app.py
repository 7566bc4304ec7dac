"""The synthetic district synced into a cache and served by the app, with a movable clock.

Shared by the authorization matrix and the access tests: records of every kind go
through ``ListConnector`` (one stream per kind), accounts come from provisioning,
and sessions are created directly (argon2 per login would dominate the run time).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from cache import maintenance
from cache.store import Cache, open_cache
from cache.tables.accounts import Account
from gateway.access import accounts, provision, security, sessions
from gateway.access.security import hash_password
from gateway.api.app import create_app
from gateway.sync.engine import SyncEngine
from simulators.district.synthetic import DistrictSpec, SyntheticDistrict
from tests.fakes import ListConnector, make_config

TODAY = dt.date(2026, 11, 24)
PASSWORD = "Correct horse battery 9"


@dataclass
class Clock:
    """The app's clock: noon in the district's time zone on ``TODAY`` unless moved."""

    at: dt.datetime = field(default_factory=lambda: dt.datetime(2026, 11, 24, 17, 0, tzinfo=dt.UTC))

    def __call__(self) -> dt.datetime:
        return self.at

    def move_to(self, day: dt.date, hour_utc: int = 17) -> None:
        self.at = dt.datetime.combine(day, dt.time(hour_utc), dt.UTC)


@dataclass
class Served:
    district: SyntheticDistrict
    cache: Cache
    client: TestClient
    clock: Clock
    source: str = "sis"
    _loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    _async: httpx.AsyncClient | None = None

    def get(self, path: str, headers: dict[str, str]) -> httpx.Response:
        """A GET straight into the ASGI app (a tenth of TestClient's per-request overhead)."""
        if self._async is None:
            transport = httpx.ASGITransport(app=self.client.app)
            self._async = httpx.AsyncClient(transport=transport, base_url="http://portico.test")
        return self._loop.run_until_complete(self._async.get(path, headers=headers))

    def close(self) -> None:
        if self._async is not None:
            self._loop.run_until_complete(self._async.aclose())
        self._loop.close()
        self.client.close()
        self.cache.dispose()

    def ref(self, kind: str, source_id: str) -> str:
        return self.cache.keyring.index.ref(self.source, kind, source_id)

    def account_of(self, role: str, source_id: str) -> Account | None:
        kind = "contact" if role == "guardian" else "student"
        with self.cache.engine.connect() as conn:
            return accounts.find_by_subject(conn, self.source, self.ref(kind, source_id))

    def ensure_account(self, role: str, source_id: str) -> Account:
        """An active account that accepted the AUP (created by hand when provisioning gave none)."""
        found = self.account_of(role, source_id)
        kind = "contact" if role == "guardian" else "student"
        with self.cache.engine.begin() as conn:
            if found is None:
                accounts.create(
                    conn,
                    self.cache.keyring,
                    role=role,
                    source=self.source,
                    subject_ref=self.ref(kind, source_id),
                    username=f"{role}-{source_id}@example.org",
                )
            found = accounts.find_by_subject(conn, self.source, self.ref(kind, source_id))
            assert found is not None
            accounts.set_fields(
                conn,
                found.id,
                status="active",
                password_hash=hash_password(PASSWORD),
                aup_version=self.cache.config.access.aup.version,
                aup_accepted_at=self.clock(),
                password_changed_at=self.clock(),
            )
        return found

    def headers(self, account_id: str) -> dict[str, str]:
        with self.cache.engine.begin() as conn:
            token, _ = sessions.create(conn, account_id, self.cache.config.access)
        return {"Authorization": f"Bearer {token}"}


def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id with test-sized costs, for tests about throttling and flows, not hashing cost.

    The unknown-user path keeps verifying against a dummy hash made with the same
    parameters, so both paths still cost the same.
    """
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(security, "_hasher", hasher)
    monkeypatch.setattr(security, "_DUMMY_HASH", hasher.hash("dummy password"))


def streams(district: SyntheticDistrict) -> dict[str, list[Any]]:
    return {kind: list(district.iter(kind)) for kind in district.kinds()}


_TEMPLATES: dict[tuple[int, str], Path] = {}


def _synced(tmp_path: Path, db_url: str, sim: SyntheticDistrict, **config: Any) -> Cache:
    cfg, secrets = make_config(tmp_path, db_url, **config)
    cache = open_cache(cfg, secrets)
    hooks = [maintenance.after_publish(cache.engine)]
    out = SyncEngine(cache.engine, cache.keyring, cfg, cfg.connectors[0], on_published=hooks).run(
        ListConnector("sis", streams(sim), page_size=500)
    )
    assert out.status == "published", out
    provision.provision(cache, cfg, "sis", today=TODAY)
    return cache


def serve(tmp_path: Path, db_url: str, students: int = 14, **config: Any) -> Served:
    """The district synced and provisioned; on SQLite, copied from one synced template per process."""
    sim = SyntheticDistrict(DistrictSpec(students=students, schools=2, today=TODAY))
    if db_url.startswith("sqlite"):
        key = (students, repr(sorted(config.items())))
        if key not in _TEMPLATES:
            template = Path(tempfile.mkdtemp(prefix="portico-district-"))
            _synced(template, f"sqlite:///{template / 'cache.db'}", sim, **config).dispose()
            _TEMPLATES[key] = template
        for name in ("cache.db", "keys.db", "kek.key"):
            shutil.copyfile(_TEMPLATES[key] / name, tmp_path / name)
        db_url = f"sqlite:///{tmp_path / 'cache.db'}"
        cfg, secrets = make_config(tmp_path, db_url, **config)
        cache = open_cache(cfg, secrets)
    else:
        cache = _synced(tmp_path, db_url, sim, **config)
        cfg = cache.config
    clock = Clock()
    client = TestClient(create_app(cfg, cache, clock=clock))
    return Served(sim, cache, client, clock)
