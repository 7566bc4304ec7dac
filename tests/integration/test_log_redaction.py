"""No leaks through the logs: an end-to-end run at debug level leaves no name, email, birth date, token or password."""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import structlog
from click.testing import CliRunner

from config.secrets import SecretResolver
from config.settings import LoggingSettings
from connectors import registry
from gateway.api.app import create_app
from gateway.api.server import uvicorn_options
from gateway.cli import main
from gateway.ops.logging import configure_logging, reset_logging, route_uvicorn_logs
from gateway.sync.engine import SyncEngine
from simulators.powerschool.model import CONNECTOR_OPTIONS
from simulators.powerschool.server import make_app, run_in_thread
from tests.support.net import serving
from tests.support.world import PASSWORD, World, login, privacy_world


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    buf = io.StringIO()
    configure_logging(LoggingSettings(level="debug", format="json"), stream=buf)
    sql = logging.getLogger("sqlalchemy.engine")
    sql.setLevel(logging.INFO)  # every statement (parameters are hidden by the engine)
    yield buf
    sql.setLevel(logging.NOTSET)
    reset_logging()


def secrets_of_district(w) -> list[str]:
    """Every name, email, phone and birth date in the synthetic district, in the forms they could take."""
    out: set[str] = set()
    for s in w.district.iter("student"):
        for name in (s.legal_first_name, s.legal_last_name, s.preferred_first_name, s.preferred_last_name):
            if name:
                out.add(name)
        dob = s.date_of_birth
        out |= {dob.isoformat(), dob.strftime("%d/%m/%Y"), dob.strftime("%m/%d/%Y"), repr(dob)}
        if s.email:
            out.add(s.email)
    for c in w.district.iter("contact"):
        out |= {x for x in (c.first_name, c.last_name, c.email, c.phone) if x}
    return sorted(out)


def hits(text: str, needles: list[str]) -> list[str]:
    found = []
    for n in needles:
        # Names as whole words, case-sensitive ("Mark" the name, not "mark" the attendance mark),
        # and not inside a random id ("Wu" in "acc_x-Wu-3f").
        pattern = re.escape(n) if not n.isalpha() else rf"(?<![\w-]){re.escape(n)}(?![\w-])"
        if re.search(pattern, text):
            found.append(n)
    return found


def sync_over_http(w: World) -> None:
    """The same district again, from the PowerSchool-like simulator over loopback HTTP."""
    app = make_app(w.district, client_id="log-client", client_secret="log-secret-value")
    base_url, stop = run_in_thread(app)
    connector = registry.build(
        "powerschool",
        "sis",
        {
            "base_url": base_url,
            "client_id": {"env": "PS_ID"},
            "client_secret": {"env": "PS_SECRET"},
            **CONNECTOR_OPTIONS,
        },
        registry.BuildContext(
            secrets=SecretResolver(env={"PS_ID": "log-client", "PS_SECRET": "log-secret-value"})
        ),
    )
    try:
        out = SyncEngine(w.cache.engine, w.cache.keyring, w.config, w.config.connectors[0]).run(
            connector, full=True
        )
        # The world was first synced from lists keyed as the district keys them; PowerSchool
        # keys links and bulk records in its own namespaces, so the drop guards may hold this run.
        assert out.status in ("published", "held"), out
    finally:
        connector.close()
        stop()


def serve_and_call(w: World, sid: str) -> str:
    """Portico under a real uvicorn, configured as every Portico process runs it; returns
    the bearer token used."""
    route_uvicorn_logs()  # the simulator's own uvicorn reconfigured these loggers in this process
    app = create_app(w.config, w.cache)
    with serving(app, **uvicorn_options(app, w.config.api)) as url, httpx.Client(base_url=url) as c:
        r = c.post("/v1/auth/login", json={"username": w.users["mum"], "password": PASSWORD})
        token = str(r.json()["access_token"])
        c.get(f"/v1/students/{sid}", params={"token": token}, headers={"Authorization": f"Bearer {token}"})
    return token


def test_an_end_to_end_run_at_debug_level_logs_no_personal_data_tokens_or_passwords(
    tmp_path: Path, captured: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = privacy_world(tmp_path, f"sqlite:///{tmp_path / 'cache.db'}", students=16)
    sync_over_http(w)  # the SIS side door: httpx and the connector, at debug level
    kid, _, _ = w.district.cases.split_household
    sid = w.ref("student", kid)
    student = w.district.get("student", kid)
    assert student is not None
    message = f"{student.legal_first_name} was present on 3 November"
    tokens: list[str] = []
    with w.api() as c:
        for label in ("mum", "dad", "kid"):
            h = login(c, w.users[label])
            tokens.append(h["Authorization"].split()[1])
            c.get("/v1/me", headers=h)
            c.get("/v1/students", headers=h)
            for path in ("", "/attendance", "/access-log", "/export", "/corrections"):
                c.get(f"/v1/students/{sid}{path}", headers=h)
            c.get(f"/v1/students/{sid}/export", headers=h, params={"format": "csv"})
        c.post(f"/v1/students/{sid}/corrections", headers=h, json={"about": "attendance", "message": message})
        c.post("/v1/auth/login", json={"username": w.users["mum"], "password": "Wrong password 1"})
        c.post("/v1/auth/login", json={"username": "nobody@example.org", "password": PASSWORD})
        c.get(f"/v1/students/{sid}/attendance", params={"from": "yesterday"}, headers=h)
        c.get(f"/v1/students/{sid}", headers={"Authorization": f"Bearer {tokens[0]}x"})
    tokens.append(serve_and_call(w, sid))  # uvicorn's own access log, query string and all
    monkeypatch.setattr("connectors.registry.validate_connectors", lambda loaded: [])
    cfg = str(w.config_yaml())
    now = dt.datetime.now(dt.UTC)
    for args in (
        ["breach", "report", "--from", (now - dt.timedelta(hours=1)).isoformat(), "--to", now.isoformat(),
         "--out", str(tmp_path / "breach")],
        ["corrections", "list"],
        ["export", "--student", sid, "--out", str(tmp_path / "export.json")],
        ["purge", "--student", kid, "--source", "sis", "--reason", "deletion-request"],
        ["audit", "verify"],
    ):  # fmt: skip
        assert CliRunner().invoke(main, ["--config", cfg, *args]).exit_code == 0
    # What a careless developer might log: redaction is the second line of defence.
    structlog.get_logger("probe").info(
        "probe", email=student.email, password=PASSWORD, token=tokens[1], first_name=student.legal_first_name,
        detail={"username": w.users["dad"], "note": f"mail {student.email}"},
    )  # fmt: skip
    logging.getLogger("probe.stdlib").warning("login by %s with Bearer %s", w.users["mum"], tokens[2])

    text = captured.getvalue()
    lines = text.splitlines()
    assert len(lines) > 50 and any("sync.finished" in ln for ln in lines)
    # The real server's access lines came from the edge, with route templates, not ids.
    served = [orjson.loads(ln) for ln in lines if '"event": "http.request"' in ln]
    assert {"/v1/auth/login", "/v1/students/{student_id}"} <= {e["route"] for e in served}
    assert not any(sid in ln for ln in lines if '"http.request"' in ln)
    assert any('"logger": "httpx"' in ln for ln in lines)  # and the connector's requests to the SIS
    for ln in lines:
        orjson.loads(ln)  # JSON in production: every line parses
    needles = (
        secrets_of_district(w) + list(w.users.values()) + tokens + [PASSWORD, "Wrong password 1", message]
    )
    found = hits(text, needles)
    assert found == [], [ln for ln in lines if hits(ln, found)][:3]
    assert "[redacted]" in text and "[email]" in text


def test_uvicorns_own_access_lines_are_dropped_even_when_switched_on() -> None:
    """They print the raw path (ids) and query; the edge's ``http.request`` lines replace them."""
    buf = io.StringIO()
    configure_logging(LoggingSettings(level="debug", format="json"), stream=buf)
    try:
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/v1/students/abc?token=s3cret", "1.1", 200
        )
        logging.getLogger("uvicorn.error").info("Started server process")
    finally:
        reset_logging()
    assert "abc" not in buf.getvalue() and "Started server process" in buf.getvalue()
