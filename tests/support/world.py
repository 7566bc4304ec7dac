"""The world most tests stand in: the synthetic district synced into a cache and served.

A :class:`World` is synced the way every Portico process syncs, through the bootstrap
(``build_application(...).sync(...)``: leavers, planner statistics and account
provisioning run after the publish), with the application's clock. Records of every
kind go through a :class:`~tests.support.connectors.ListConnector` (one stream per
kind). Accounts come from provisioning; a test activates the ones it signs in with, or
creates sessions directly (argon2 per sign-in would dominate the run time).

:func:`build_world` gives the district on ``TODAY`` with a movable clock (on SQLite,
copied from one synced template per process and config); :func:`privacy_world` the
district on the real clock with mail to an outbox, a district data contact, and three
activated accounts of the split household (``users``: ``mum``, ``dad``, ``kid``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from cache.store import Cache, open_cache
from cache.tables.accounts import Account
from cache.types import utcnow
from config.settings import PorticoConfig
from gateway.access import accounts, holds, security, sessions
from gateway.access.security import hash_password
from gateway.api.app import create_app
from gateway.bootstrap import Application, build_application
from gateway.sync.engine import SyncOutcome
from simulators.district.synthetic import SyntheticDistrict
from tests.support.clock import Clock
from tests.support.config import make_config, write_yaml
from tests.support.connectors import district_connector
from tests.support.district import district as make_district

PASSWORD = "Correct horse battery 9"

# Every data route of one student, after ``/v1/students/{id}``.
STUDENT_ROUTES = (
    "",
    "/attendance",
    "/attendance/summary",
    "/timetable",
    "/grades",
    "/assignments",
    "/behaviour",
    "/reports",
)


@dataclass
class World:
    config: PorticoConfig
    cache: Cache
    district: SyntheticDistrict
    tmp: Path
    clock: Callable[[], dt.datetime]
    users: dict[str, str] = field(default_factory=dict)  # label -> username of an activated account
    source: str = "sis"
    _client: TestClient | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _async: httpx.AsyncClient | None = None

    # --- syncing ---------------------------------------------------------------------------

    def application(self) -> Application:
        return build_application(self.config, base_dir=self.tmp, cache=self.cache, clock=self.clock)

    def sync(self, d: SyntheticDistrict | None = None) -> SyncOutcome:
        """A full sync the way every process runs one: through the bootstrap, with its hooks."""
        out = self.application().sync(
            self.source, connector=district_connector(d or self.district), full=True
        )
        assert out.status == "published", (out.status, out.hold_reasons, out.error)
        return out

    # --- serving ---------------------------------------------------------------------------

    def api(self) -> TestClient:
        """A fresh client of a fresh app on this world's cache and clock."""
        return TestClient(create_app(self.config, self.cache, clock=self.clock))

    @property
    def client(self) -> TestClient:
        """The world's own client (made once)."""
        if self._client is None:
            self._client = self.api()
        return self._client

    def get(self, path: str, headers: dict[str, str]) -> httpx.Response:
        """A GET straight into the ASGI app (a tenth of TestClient's per-request overhead)."""
        if self._async is None or self._loop is None:
            self._loop = asyncio.new_event_loop()
            transport = httpx.ASGITransport(app=self.client.app)
            self._async = httpx.AsyncClient(transport=transport, base_url="http://portico.test")
        return self._loop.run_until_complete(self._async.get(path, headers=headers))

    def close(self) -> None:
        if self._async is not None and self._loop is not None:
            self._loop.run_until_complete(self._async.aclose())
        if self._loop is not None:
            self._loop.close()
        if self._client is not None:
            self._client.close()
        self.cache.dispose()

    # --- people and accounts ---------------------------------------------------------------

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

    def activate(self, label: str, role: str, source_id: str) -> str:
        """Activate the account provisioning made for ``source_id`` as an invitation would;
        its username is kept in ``users[label]``."""
        kind = "contact" if role == "guardian" else "student"
        with self.cache.engine.begin() as conn:
            account = accounts.find_by_subject(conn, self.source, self.ref(kind, source_id))
            assert account is not None, label
            self.users[label] = accounts.username_of(self.cache.keyring, account)
            accounts.set_fields(
                conn,
                account.id,
                status="active",
                password_hash=hash_password(PASSWORD),
                password_changed_at=self.clock(),
                aup_version=self.config.access.aup.version,
                aup_accepted_at=self.clock(),
            )
        return self.users[label]

    def visible(self, account_id: str) -> set[str]:
        """The public ids of the students ``GET /v1/students`` lists for the account."""
        r = self.get("/v1/students", self.headers(account_id))
        assert r.status_code == 200, r.text
        return {x["id"] for x in r.json()["data"]}

    def hold(self, subject: str, source_id: str, kind: str, reason: str = "test") -> None:
        """A hold on a contact's or a student's access, as an officer places one."""
        with self.cache.engine.begin() as conn:
            holds.place(
                conn,
                self.cache.keyring,
                source=self.source,
                subject=subject,
                ref=self.ref(subject, source_id),
                kind=kind,
                reason=reason,
                by="test",
            )

    def headers(self, account_id: str) -> dict[str, str]:
        """A session made directly (no sign-in): its bearer header."""
        with self.cache.engine.begin() as conn:
            token, _ = sessions.create(conn, account_id, self.cache.config.access)
        return {"Authorization": f"Bearer {token}"}

    def config_yaml(self) -> Path:
        """The world's config as a YAML file, for driving the ``portico`` CLI (another process's view)."""
        return write_yaml(self.tmp / "portico.yaml", self.config)


def add_guardian(
    cache: Cache, contact_id: str, username: str, password: str = PASSWORD, source: str = "sis"
) -> str:
    """An active account for SIS contact ``contact_id`` that accepted the AUP: its id."""
    with cache.engine.begin() as conn:
        return accounts.create(
            conn,
            cache.keyring,
            role="guardian",
            source=source,
            subject_ref=cache.keyring.index.ref(source, "contact", contact_id),
            username=username,
            password=password,
            aup_version=cache.config.access.aup.version,
        )


def login(c: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Sign in through the API: the bearer header of the new session."""
    r = c.post("/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id with test-sized costs, for tests about throttling and flows, not hashing cost.

    The unknown-user path keeps verifying against a dummy hash made with the same
    parameters, so both paths still cost the same.
    """
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(security, "_hasher", hasher)
    monkeypatch.setattr(security, "_DUMMY_HASH", hasher.hash("dummy password"))


def _synced(
    tmp: Path, db_url: str, d: SyntheticDistrict, clock: Callable[[], dt.datetime], config: dict[str, Any]
) -> World:
    cfg, secrets = make_config(tmp, db_url, **config)
    world = World(cfg, open_cache(cfg, secrets), d, tmp, clock)
    world.sync()
    return world


_TEMPLATES: dict[tuple[int, int, str, str], Path] = {}


def build_world(
    tmp: Path,
    db_url: str,
    students: int = 14,
    *,
    schools: int = 2,
    clock: Callable[[], dt.datetime] | None = None,
    reuse: bool = True,
    **config: Any,
) -> World:
    """The district synced and provisioned, on ``clock`` (a :class:`Clock` on ``TODAY``
    unless given). ``config``: top-level config sections. With ``reuse`` on SQLite, the
    cache is copied from one synced template per process, size, clock and config."""
    d = make_district(students, schools=schools)
    clock = clock or Clock()
    if not (reuse and db_url.startswith("sqlite") and isinstance(clock, Clock)):
        return _synced(tmp, db_url, d, clock, config)
    key = (students, schools, clock.at.isoformat(), repr(sorted(config.items())))
    if key not in _TEMPLATES:
        template = Path(tempfile.mkdtemp(prefix="portico-world-"))
        _synced(template, f"sqlite:///{template / 'cache.db'}", d, clock, config).cache.dispose()
        _TEMPLATES[key] = template
    for name in ("cache.db", "keys.db", "kek.key"):
        shutil.copyfile(_TEMPLATES[key] / name, tmp / name)
    cfg, secrets = make_config(tmp, f"sqlite:///{tmp / 'cache.db'}", **config)
    return World(cfg, open_cache(cfg, secrets), d, tmp, clock)


def privacy_world(
    tmp: Path,
    db_url: str,
    students: int = 24,
    privacy: dict[str, Any] | None = None,
    mail: dict[str, Any] | None = None,
    **config: Any,
) -> World:
    """The district on the real clock, mail to ``tmp/outbox``, a district data contact, and
    the split household's mum, dad and kid activated (``users``)."""
    w = build_world(
        tmp,
        db_url,
        students,
        clock=utcnow,
        reuse=False,
        mail=mail or {"backend": "outbox", "outbox_dir": str(tmp / "outbox")},
        privacy={"district_data_contact": "records@district.example.org", **(privacy or {})},
        **config,
    )
    student, mum, dad = w.district.cases.split_household
    w.activate("mum", "guardian", mum)
    w.activate("dad", "guardian", dad)
    w.activate("kid", "student", student)
    return w
