"""``portico demo`` sets up, syncs both demo sources and prints logins that work."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from gateway.cli import main
from tests.support import REPO
from tests.support.net import free_port


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
    # The SIS credentials are files beside the config (owner-only), named in it, never in YAML.
    work = tmp_path / "demo"
    config = (work / "portico.yaml").read_text()
    assert "client_secret:\n      file: sis-client-secret" in config
    for name in ("sis-client-id", "sis-client-secret", "kek.key"):
        assert (work / name).stat().st_mode & 0o777 == 0o600, name
        assert (work / name).read_text().strip() not in config
    assert f"portico --config {work / 'portico.yaml'} sync" in result.output
    # The UK school keeps London time.
    assert "timezone: Europe/London" in config


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
                if label == "UK school parent (CSV)":
                    # Marks entered so far are past the day's lag: the parent sees grades.
                    for child in students.json()["data"]:
                        grades = client.get(f"/v1/students/{child['id']}/grades", headers=h)
                        assert grades.status_code == 200 and grades.json()["data"], grades.text
    finally:
        cache.dispose()


def test_the_demo_refuses_a_folder_it_did_not_make_and_leaves_it_alone(tmp_path: Path) -> None:
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "chapter1.txt").write_text("irreplaceable")
    result = CliRunner().invoke(main, ["demo", "--dir", str(mine), "--students", "40", "--no-serve"])
    assert result.exit_code == 1
    assert f"{mine} already exists and was not made by `portico demo`" in result.output
    assert "choose another --dir" in result.output
    assert [p.name for p in mine.iterdir()] == ["chapter1.txt"]
    assert (mine / "chapter1.txt").read_text() == "irreplaceable"
    assert "Syncing" not in result.output
    # A file in place of the folder is refused too, and kept.
    (tmp_path / "afile").write_text("keep")
    result = CliRunner().invoke(main, ["demo", "--dir", str(tmp_path / "afile"), "--no-serve"])
    assert result.exit_code != 0 and (tmp_path / "afile").read_text() == "keep"


def test_the_demo_recreates_a_folder_an_earlier_demo_made(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    first = CliRunner().invoke(main, ["demo", "--dir", str(work), "--students", "40", "--no-serve"])
    assert first.exit_code == 0, first.output
    assert (work / ".portico-demo").is_file()
    (work / "left-over").write_text("from the first run")
    again = CliRunner().invoke(main, ["demo", "--dir", str(work), "--students", "40", "--no-serve"])
    assert again.exit_code == 0, again.output
    assert not (work / "left-over").exists() and (work / "portico.yaml").exists()


def test_a_busy_port_is_named_before_anything_is_synced_or_printed(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for args, what, option in (
            (["--port", str(port)], "the portal and API", "--port"),
            (["--sis-port", str(port), "--no-serve"], "the SIS simulator", "--sis-port"),
        ):
            work = tmp_path / option.strip("-")
            result = CliRunner().invoke(main, ["demo", "--dir", str(work), "--students", "40", *args])
            assert result.exit_code == 1, result.output
            assert f"port {port} on 127.0.0.1 ({what}) is already in use" in result.output
            assert re.search(rf"choose another with {option} PORT, e\.g\. {option} \d+", result.output)
            assert "Syncing" not in result.output and "Demo logins" not in result.output
            assert not work.exists()  # nothing made either


def test_a_running_demo_can_be_synced_from_a_second_shell(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "gateway",
        "demo",
        "--dir",
        str(work),
        "--students",
        "40",
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # until the demo says how to use its config elsewhere
            lines.append(line)
            if " sync" in line and "portico --config" in line:
                break
        command = next(ln for ln in lines if "portico --config" in ln).split()
        assert command[:2] == ["portico", "--config"] and command[3] == "sync"
        # The second shell has none of the demo's environment: the secrets come from files.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
        second = subprocess.run(
            [sys.executable, "-m", "gateway", *command[1:], "--connector", "district"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert second.returncode == 0, second.stdout + second.stderr
        assert re.search(r"district: run \d+ published", second.stdout), second.stdout
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
