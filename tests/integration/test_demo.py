"""``portico demo`` sets up, syncs both demo sources and prints logins that work."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from gateway.cli import main


def test_the_demo_syncs_both_sources_and_prints_usable_logins(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["demo", "--dir", str(tmp_path / "demo"), "--students", "40", "--no-serve"]
    )
    assert result.exit_code == 0, result.output
    assert "district: run 1 published" in result.output
    # The portal first, then the API.
    portal = result.output.index("open http://127.0.0.1:8000/ and sign in as ")
    assert portal < result.output.index("The API:")
    assert re.search(r"school: run \d+ published", result.output)
    logins = re.findall(r"^  (.+?)\s{2,}(\S+@\S+)\s+(\S+)$", result.output, re.M)
    labels = {label.strip() for label, _, _ in logins}
    assert {
        "parent of two children",
        "split household, parent A",
        "student (own records)",
        "UK school parent (CSV)",
    } <= labels
    # The SIS credentials are named by environment variable; no secret is written to YAML.
    config = (tmp_path / "demo" / "portico.yaml").read_text()
    assert "client_secret:\n      env: PORTICO_DEMO_PS_CLIENT_SECRET" in config


def test_every_printed_demo_login_signs_in_and_sees_students(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from cache.store import open_cache
    from config.loader import load
    from config.secrets import SecretResolver
    from gateway.api.app import create_app

    work = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "--dir", str(work), "--students", "40", "--no-serve"])
    assert result.exit_code == 0, result.output
    logins = re.findall(r"^  (.+?)\s{2,}(\S+@\S+)\s+(\S+)$", result.output, re.M)
    loaded = load(work / "portico.yaml")
    cache = open_cache(loaded.config, SecretResolver(base_dir=work))
    try:
        with TestClient(create_app(loaded.config, cache)) as client:
            for label, username, password in logins:
                r = client.post("/v1/auth/login", json={"username": username, "password": password})
                assert r.status_code == 200, (label, r.text)
                h = {"Authorization": f"Bearer {r.json()['access_token']}"}
                students = client.get("/v1/students", headers=h)
                assert students.status_code == 200 and students.json()["data"], label
    finally:
        cache.dispose()
