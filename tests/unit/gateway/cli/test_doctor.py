"""`portico doctor` on a healthy install says so; on a broken one it names each fault and
what to fix, and exits 1. Real peers: the PowerSchool simulator over HTTP, aiosmtpd."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result
from sqlalchemy import text

from cache.db import make_engine
from gateway.cli import main
from simulators.district.synthetic import DistrictSpec, SyntheticDistrict
from simulators.powerschool.server import make_app, run_in_thread
from tests.support.config import key_file, upgrade_schema
from tests.support.mail import smtp_server
from tests.support.net import free_port

CID, SECRET = "doctor-client", "doctor-secret-value"


@pytest.fixture(scope="module")
def sis() -> Iterator[str]:
    app = make_app(
        SyntheticDistrict(DistrictSpec(seed=5, schools=1, students=20)), client_id=CID, client_secret=SECRET
    )
    base_url, stop = run_in_thread(app)
    yield base_url
    stop()


def _install(tmp_path: Path, sis_url: str, smtp_port: int) -> Path:
    key_file(tmp_path).chmod(0o600)
    raw = {
        "district": {"name": "Doctor District", "timezone": "Europe/London"},
        "cache": {"url": f"sqlite:///{tmp_path / 'cache.db'}", "kek": {"file": "kek.key"}},
        "connectors": [{"name": "sis", "type": "powerschool", "options": {
            "base_url": sis_url, "client_id": {"env": "DOCTOR_PS_ID"}, "client_secret": {"env": "DOCTOR_PS_SECRET"},
        }}],
        "mail": {"backend": "smtp", "smtp_host": "127.0.0.1", "smtp_port": smtp_port},
    }  # fmt: skip
    path = tmp_path / "portico.yaml"
    path.write_text(yaml.safe_dump(raw))
    from config.loader import load

    upgrade_schema(load(path).config)
    return path


def _doctor(path: Path) -> Result:
    env = {"DOCTOR_PS_ID": CID, "DOCTOR_PS_SECRET": SECRET, "COLUMNS": "250"}
    return CliRunner(env=env).invoke(main, ["--config", str(path), "doctor"], catch_exceptions=False)


def test_a_healthy_install_has_no_faults(tmp_path: Path, sis: str) -> None:
    with smtp_server() as (inbox, port):
        path = _install(tmp_path, sis, port)
        # A sync writes data keys: the key file is then checked by unwrapping one.
        sync = CliRunner(env={"DOCTOR_PS_ID": CID, "DOCTOR_PS_SECRET": SECRET}).invoke(
            main, ["--config", str(path), "sync"]
        )
        assert sync.exit_code == 0, sync.output
        result = _doctor(path)
        assert inbox.messages == []  # EHLO only: no mail sent
    assert result.exit_code == 0, result.output
    assert "no faults" in result.output
    assert "ok    key file: file kek.key unwraps the keystore's keys" in result.output
    assert "ok    source sis (powerschool): token endpoint answered" in result.output
    assert "answered EHLO (no mail sent)" in result.output
    assert "ok    clock:" in result.output and " s " in result.output
    assert SECRET not in result.output


def test_a_broken_install_names_each_fault_and_what_to_fix(tmp_path: Path) -> None:
    dead_sis, dead_smtp = f"http://127.0.0.1:{free_port()}", free_port()
    path = _install(tmp_path, dead_sis, dead_smtp)
    # The schema is behind: the cache says it is at an older revision than this code's.
    engine = make_engine(f"sqlite:///{tmp_path / 'cache.db'}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'c0001'"))
    engine.dispose()
    (tmp_path / "kek.key").unlink()

    result = _doctor(path)
    out = result.output
    assert result.exit_code == 1, out
    assert "FAULT key file: key file kek.key does not exist" in out
    assert "FAULT cache schema: behind: at c0001" in out
    assert "run `portico db upgrade`" in out
    assert f"FAULT source sis (powerschool): {dead_sis}: POST /oauth/access_token failed" in out
    assert f"FAULT mail: smtp 127.0.0.1:{dead_smtp}: ConnectionRefusedError" in out
    assert "skip  clock: skipped" in out
    # Every fault says what to fix.
    faults = [i for i, line in enumerate(out.splitlines()) if line.startswith("FAULT")]
    assert len(faults) >= 5  # the config check reports the missing key file too
    for i in faults:
        following = out.splitlines()[i + 1 :]
        assert any(line.startswith("      fix: ") for line in following[:8]), out
    assert "5 faults" in out or "6 faults" in out
