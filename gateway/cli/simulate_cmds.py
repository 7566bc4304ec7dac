"""``portico simulate powerschool|cloudschool``: simulated sources on loopback or on disk, for rehearsal and tests."""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from simulators.cloudschool.export import DEFECTS
from simulators.cloudschool.layout import FILES
from simulators.cloudschool.rehearsal import simulate_cloudschool
from simulators.district.synthetic import DistrictSpec
from simulators.powerschool.grants import BadPlugin, read_plugin
from simulators.powerschool.server import Faults, serve


@click.group("simulate")
def simulate_group() -> None:
    """Run simulated sources fed by the deterministic synthetic district."""


F = TypeVar("F", bound=Callable[..., Any])


def district_options(f: F) -> F:
    f = click.option("--seed", default=7, show_default=True, help="Same seed, same district.")(f)
    f = click.option("--schools", default=2, show_default=True)(f)
    f = click.option("--students", default=200, show_default=True)(f)
    f = click.option(
        "--today",
        type=click.DateTime(["%Y-%m-%d"]),
        default=None,
        help="The district's 'today' (default: the real date).",
    )(f)
    return f


def spec_from(seed: int, schools: int, students: int, today: dt.datetime | None, style: str) -> DistrictSpec:
    return DistrictSpec(
        seed=seed,
        schools=schools,
        students=students,
        style=style,
        today=(today.date() if today else dt.date.today()),
    )


@simulate_group.command("powerschool")
@district_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address (keep it on loopback).")
@click.option("--port", default=8700, show_default=True)
@click.option(
    "--client-id-env",
    default="PORTICO_SIM_CLIENT_ID",
    show_default=True,
    help="Environment variable holding the OAuth client id to accept (generated if unset).",
)
@click.option(
    "--client-secret-env",
    default="PORTICO_SIM_CLIENT_SECRET",
    show_default=True,
    help="Environment variable holding the OAuth client secret to accept (generated if unset).",
)
@click.option("--rate-limit", default=0, help="Answer 429 with Retry-After to this many requests first.")
@click.option(
    "--retry-after", default="1", show_default=True, help="Retry-After value (seconds or HTTP date)."
)
@click.option("--server-errors", default=0, help="Answer a burst of this many 503s first.")
@click.option("--expire-tokens-after", type=int, default=None, help="Revoke tokens after this many requests.")
@click.option("--delay", default=0.0, help="Seconds to wait before each resource response (slow pages).")
@click.option(
    "--count-skew", multiple=True, metavar="KIND=N", help="Add N to the /count of KIND (repeatable)."
)
@click.option(
    "--schema-page-cap", default=1000, show_default=True, help="Largest pagesize /ws/schema allows."
)
@click.option(
    "--plugin",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="An installed plugin zip (portico powerschool plugin): only the fields it grants are answered.",
)
@click.option("--quiet", is_flag=True, help="Log warnings only.")
def powerschool_cmd(
    seed: int,
    schools: int,
    students: int,
    today: dt.datetime | None,
    host: str,
    port: int,
    client_id_env: str,
    client_secret_env: str,
    rate_limit: int,
    retry_after: str,
    server_errors: int,
    expire_tokens_after: int | None,
    delay: float,
    count_skew: tuple[str, ...],
    schema_page_cap: int,
    plugin: str | None,
    quiet: bool,
) -> None:
    """Serve a synthetic district the way a PowerSchool server does (OAuth, /ws/v1, /ws/schema)."""
    client_id = os.environ.get(client_id_env) or "sim-" + secrets.token_hex(4)
    client_secret = os.environ.get(client_secret_env)
    if not client_secret:
        client_secret = secrets.token_urlsafe(18)
        click.echo(f"client secret (set {client_secret_env} to choose one): {client_secret}")
    skew = {}
    for item in count_skew:
        kind, _, n = item.partition("=")
        if not n.lstrip("-").isdigit():
            raise click.BadParameter(f"expected KIND=N, got {item!r}", param_hint="--count-skew")
        skew[kind] = int(n)
    installed = Path(plugin).read_bytes() if plugin else None
    if installed is not None:
        try:
            read_plugin(installed)
        except BadPlugin as exc:
            raise click.BadParameter(str(exc), param_hint="--plugin") from None
    faults = Faults(
        rate_limit_next=rate_limit,
        retry_after=retry_after,
        server_errors_next=server_errors,
        expire_tokens_after=expire_tokens_after,
        delay=delay,
        count_skew=skew,
    )
    click.echo(f"PowerSchool-like simulator on http://{host}:{port} (client id {client_id}); Ctrl-C stops it")
    serve(
        spec_from(seed, schools, students, today, "us"),
        host,
        port,
        client_id=client_id,
        client_secret=client_secret,
        faults=faults,
        schema_page_cap=schema_page_cap,
        plugin=installed,
        log_level="warning" if quiet else "info",
    )


@simulate_group.command("cloudschool")
@click.option(
    "--out", required=True, type=click.Path(file_okay=False), help="folder to write the export into"
)
@click.option(
    "--defect",
    "defects",
    multiple=True,
    type=click.Choice(list(DEFECTS)),
    help="inject a real-file defect (repeatable): " + "; ".join(f"{k}: {v}" for k, v in DEFECTS.items()),
)
@click.option("--target", type=click.Choice(list(FILES)), default="students", show_default=True,
              help="the file that single-file defects hit")  # fmt: skip
@click.option("--students", type=click.IntRange(min=12), default=300, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--no-manifest", is_flag=True, help="write no export_manifest.csv")
@click.option("--changed-fraction", type=click.FloatRange(0, 1), default=0.0, help="share of rows to change")
def cloudschool_command(
    out: str,
    defects: tuple[str, ...],
    target: str,
    students: int,
    seed: int,
    no_manifest: bool,
    changed_fraction: float,
) -> None:
    """Write a Cloud-School-like export of a synthetic school (for rehearsals and tests)."""
    summary, options = simulate_cloudschool(
        out,
        defects=defects,
        students=students,
        seed=seed,
        target=target,
        manifest=not no_manifest,
        changed_fraction=changed_fraction,
    )
    for name, rows in summary.rows.items():
        click.echo(f"{name:<26} {rows:>9,} rows")
    if summary.bad_rows:
        click.echo(f"malformed rows planted: {len(summary.bad_rows)}")
    click.echo("\nconnector options to read it:")
    for key, value in options.items():
        click.echo(f"  {key}: {value!r}")
