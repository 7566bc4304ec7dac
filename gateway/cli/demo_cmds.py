"""``portico demo``: simulator, sync and API on loopback, with demo logins printed."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import sys
from pathlib import Path
from typing import Any

import click
import yaml

from cache.keys.crypto import new_kek_line
from cache.store import Cache
from cache.types import utcnow
from config.loader import LoadedConfig
from gateway.access import accounts
from gateway.access.security import hash_password
from gateway.api.app import settle_before_serving
from gateway.api.server import serve
from gateway.cli.common import application, load_valid
from gateway.cli.db_cmds import upgrade_databases
from gateway.cli.sync_cmds import print_outcome
from gateway.ops.logging import configure_logging
from simulators.cloudschool.rehearsal import simulate_cloudschool
from simulators.district.synthetic import DistrictSpec, SyntheticDistrict
from simulators.powerschool.model import CONNECTOR_OPTIONS
from simulators.powerschool.server import make_app, port_in_use, run_in_thread

# The simulator's credentials, beside the config (0600), so a second shell can sync it too.
CLIENT_ID_FILE, CLIENT_SECRET_FILE = "sis-client-id", "sis-client-secret"
# Written into a folder the demo creates; only a folder holding it is ever deleted.
MARKER = ".portico-demo"
MARKER_TEXT = "Made by `portico demo`, which deletes and recreates this folder on its next run.\n"
LOOPBACK = "127.0.0.1"


class DemoRefused(click.ClickException):
    """The demo will not start: a folder it did not make, or a port already in use."""


def prepare_folder(work: Path) -> None:
    """Create ``work`` for a demo run, or empty it if an earlier demo made it.

    A folder that exists without the demo's marker file (or with the marker as anything
    but a plain file) is refused; an empty folder is used as it is.
    """
    marker = work / MARKER
    if work.is_symlink() or (work.exists() and not work.is_dir()):
        raise DemoRefused(f"{work} is not a folder the demo made; choose another --dir")
    if work.exists():
        if marker.is_file() and not marker.is_symlink():
            shutil.rmtree(work)
        elif any(work.iterdir()):
            raise DemoRefused(
                f"{work} already exists and was not made by `portico demo` (it has no {MARKER} file), "
                "so the demo will not delete it: choose another --dir, or empty or remove that folder yourself"
            )
    work.mkdir(parents=True, exist_ok=True)
    marker.write_text(MARKER_TEXT)


def check_ports(ports: list[tuple[int, str, str]]) -> None:
    """Refuse, naming the port, what it was for and the option that moves it, if one is busy."""
    for port, what, option in ports:
        if port and port_in_use(port):
            free = next((p for p in range(port + 1, min(port + 100, 65536)) if not port_in_use(p)), None)
            hint = f", e.g. {option} {free}" if free else ""
            raise DemoRefused(
                f"port {port} on {LOOPBACK} ({what}) is already in use; "
                f"stop what is using it, or choose another with {option} PORT{hint}"
            )


def write_secret(path: Path, value: str) -> None:
    """A secret file readable by its owner only (0600 from the moment it exists)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")


def demo_connector(
    workdir: Path, *, name: str = "school", students: int = 120, seed: int = 11, today: dt.date | None = None
) -> dict[str, object]:
    """Write a clean export under ``workdir/cloudschool-export`` and return the YAML
    ``connectors:`` entry that reads it (for ``portico demo``: one PowerSchool-like
    district and one Cloud-School-like school side by side)."""
    folder = workdir / "cloudschool-export"
    _, options = simulate_cloudschool(folder, students=students, seed=seed, today=today)
    return {
        "name": name,
        "type": "cloudschool",
        # A UK school: its export's times, its "today" and its schedule are London's.
        "schedule": {"interval": "PT1H", "timezone": "Europe/London"},
        "options": {
            **options,
            "path": "cloudschool-export",
            "settle_seconds": 0,
            "timezone": "Europe/London",
        },
    }


def demo_config(workdir: Path, sis_url: str) -> dict[str, Any]:
    return {
        "district": {"name": "Demo Unified School District", "timezone": "America/New_York"},
        "cache": {
            "url": f"sqlite:///{workdir / 'cache.db'}",
            "kek": {"file": "kek.key"},
            "stale_after": "PT6H",
        },
        "connectors": [
            {
                "name": "district",
                "type": "powerschool",
                "schedule": {"interval": "PT15M", "jitter": "PT1M"},
                "options": {
                    "base_url": sis_url,
                    "client_id": {"file": CLIENT_ID_FILE},
                    "client_secret": {"file": CLIENT_SECRET_FILE},
                    # The simulated district's attendance codes, log types and own tables.
                    **CONNECTOR_OPTIONS,
                },
            }
        ],
        "visibility": {"attendance": {"lag": "PT30M", "same_day_not_before": "10:30"}},
        "access": {
            "password_policy": "nist",
            "aup": {"version": "2026-1", "text": "Demo acceptable-use policy."},
        },
        "api": {"docs": True},
        "mail": {"backend": "outbox", "outbox_dir": str(workdir / "outbox")},
        "logging": {"format": "console"},
    }


def demo_logins(
    cache: Cache, loaded: LoadedConfig, district: SyntheticDistrict, school: SyntheticDistrict
) -> list[tuple[str, str, str]]:
    """Accounts for the interesting people of each source, each with a fresh password."""
    cases, uk = district.cases, school.cases
    idx = cache.keyring.index
    people: list[tuple[str, str, str, str, SyntheticDistrict]] = [
        ("parent of two children", "district", "guardian", cases.two_child_contact, district),
        ("split household, parent A", "district", "guardian", cases.split_household[1], district),
        ("split household, parent B", "district", "guardian", cases.split_household[2], district),
        ("student (own records)", "district", "student", cases.student_login, district),
        ("UK school parent (CSV)", "school", "guardian", uk.two_child_contact, school),
    ]
    out = []
    with cache.engine.begin() as conn:
        for label, source, role, sis_id, source_district in people:
            kind = "contact" if role == "guardian" else "student"
            record = source_district.get(kind, sis_id)
            username = getattr(record, "email", None) or f"{kind}-{sis_id}"
            ref = idx.ref(source, kind, sis_id)
            password = "-".join(secrets.token_hex(3) for _ in range(4))
            aup = loaded.config.access.aup.version
            existing = accounts.find_by_subject(conn, source, ref)
            if existing is None:
                accounts.create(
                    conn,
                    cache.keyring,
                    role=role,
                    source=source,
                    subject_ref=ref,
                    username=username,
                    password=password,
                    aup_version=aup,
                )
            else:
                # Provisioned after the sync and waiting for its invitation: activate it here,
                # as the person would by following the emailed link.
                username = accounts.username_of(cache.keyring, existing)
                now = utcnow()
                accounts.set_fields(
                    conn,
                    existing.id,
                    status="active",
                    password_hash=hash_password(password),
                    password_changed_at=now,
                    activated_at=now,
                    aup_version=aup,
                    aup_accepted_at=now,
                )
            out.append((label, username, password))
    return out


@click.command("demo")
@click.option(
    "--dir",
    "workdir",
    default="demo-data",
    show_default=True,
    type=click.Path(file_okay=False),
    help=(
        "Working folder for the demo's config, keys and cache. Recreated each run if an earlier "
        f"demo made it (it holds a {MARKER} file); any other non-empty folder is refused."
    ),
)
@click.option("--students", default=300, show_default=True, help="Size of the synthetic district.")
@click.option("--port", default=8000, show_default=True, help="Portal and API port on 127.0.0.1.")
@click.option(
    "--sis-port",
    default=0,
    show_default=True,
    help="Port of the SIS simulator on 127.0.0.1 (0: any free port).",
)
@click.option("--no-serve", is_flag=True, help="Set up and sync, print the logins, then exit.")
def demo_cmd(workdir: str, students: int, port: int, sis_port: int, no_serve: bool) -> None:
    """Start the bundled SIS simulator, sync it into a fresh encrypted cache, serve the portal and the API.

    The folder is deleted only if an earlier demo made it, and every port is checked
    before anything is synced. While it runs, its config can be used from another shell
    (the simulator's credentials are files beside it), e.g. to sync again.
    """
    work = Path(workdir).absolute()
    # Ports first: nothing is synced and no login printed for a demo that could not serve.
    ports = [(sis_port, "the SIS simulator", "--sis-port")]
    if not no_serve:
        ports.insert(0, (port, "the portal and API", "--port"))
    check_ports(ports)
    prepare_folder(work)
    write_secret(work / "kek.key", new_kek_line())

    today = dt.date.today()
    district = SyntheticDistrict(DistrictSpec(seed=7, schools=2, students=students, today=today))
    client_id, client_secret = "demo-" + secrets.token_hex(4), secrets.token_urlsafe(24)
    write_secret(work / CLIENT_ID_FILE, client_id)
    write_secret(work / CLIENT_SECRET_FILE, client_secret)
    sis_app = make_app(district, client_id=client_id, client_secret=client_secret)
    sis_url, stop_sis = run_in_thread(sis_app, port=sis_port)
    click.echo(f"SIS simulator (PowerSchool-like) listening on {sis_url}")

    config = demo_config(work, sis_url)
    # One Cloud-School-like school beside the district: a CSV export folder, read in place.
    config["connectors"].append(demo_connector(work, name="school", students=120, seed=11, today=today))
    school = SyntheticDistrict(DistrictSpec(seed=11, schools=1, students=120, style="uk", today=today))
    config["portal"] = {"public_url": f"http://127.0.0.1:{port}"}  # the links in emailed invitations
    config_path = work / "portico.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    loaded = load_valid(str(config_path))
    # Logs on stderr, through the same redaction as every process; stdout keeps what the
    # demo tells its user (the logins), so either can be kept apart from the other.
    configure_logging(loaded.config.logging, stream=sys.stderr)
    upgrade_databases(loaded)
    portico = application(loaded)
    cache = portico.cache
    try:
        for cs in loaded.config.connectors:
            click.echo(f"Syncing {cs.name} ...")
            out = portico.sync(cs.name, full=True)
            print_outcome(out)
            if out.status != "published":
                raise click.ClickException(f"the demo sync of {cs.name} did not publish ({out.status})")
        logins = demo_logins(cache, loaded, district, school)
        base = f"http://127.0.0.1:{port}"
        click.echo("\nDemo logins (passwords are new each run):")
        for label, username, password in logins:
            click.echo(f"  {label:<28} {username:<44} {password}")
        user, pw = logins[0][1], logins[0][2]
        click.echo(f"\nThe parent and student portal: open {base}/ and sign in as {user} with {pw}")
        click.echo("(or any login above; the portal is in English and Spanish, and UK English).")
        click.echo(
            "\nThe API:\n"
            f"  TOKEN=$(curl -s {base}/v1/auth/login -H 'content-type: application/json' \\\n"
            f'      -d \'{{"username": "{user}", "password": "{pw}"}}\' | python3 -c \'import json,sys; print(json.load(sys.stdin)["access_token"])\')\n'
            f'  curl -s {base}/v1/students -H "Authorization: Bearer $TOKEN"\n'
            f'  curl -s "{base}/v1/students/<id>/attendance" -H "Authorization: Bearer $TOKEN"\n'
            f"  API docs: {base}/docs   Config used: {config_path}\n"
        )
        click.echo(
            "While the demo runs, its config works from another shell too, e.g.:\n"
            f"  portico --config {config_path} sync\n"
            f"  portico --config {config_path} status\n"
        )
        if no_serve:
            return
        app = portico.api()
        settle_before_serving()
        serve(app, loaded.config.api, host="127.0.0.1", port=port)
    finally:
        portico.dispose()
        stop_sis()
