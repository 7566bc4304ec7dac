"""``portico powerschool plugin``: the plugin a district installs so Portico may read."""

from __future__ import annotations

import re
from pathlib import Path

import click

from connectors.powerschool import plugin
from connectors.powerschool.options import Options
from gateway.cli.common import config_of, fail


@click.group("powerschool")
def powerschool_group() -> None:
    """PowerSchool connector tools."""


@powerschool_group.command("plugin")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The plugin zip to write.")
@click.option(
    "--connector", "name", default=None, help="The powerschool connector in the config (if several)."
)
@click.option(
    "--email", required=True, help="Contact email shown to the district's administrators (≤ 40 characters)."
)
@click.option(
    "--publisher", default=None, help="Publisher name shown in PowerSchool (default: the district's name)."
)
@click.option(
    "--plugin-version",
    default=plugin.VERSION,
    show_default=True,
    help="Raise it each time a changed plugin is installed again: PowerSchool refuses a version that does not go up.",
)
@click.pass_context
def plugin_cmd(
    ctx: click.Context, out: str, name: str | None, email: str, publisher: str | None, plugin_version: str
) -> None:
    """Write the plugin zip for the config's PowerSchool connector: plugin.xml with OAuth and an
    access request for exactly the tables and fields the connector reads, and the named queries
    it calls. The district installs it (System > System Settings > Plugin Management), enables it
    and copies the client id and secret it shows into the connector's secrets."""
    loaded = config_of(ctx)
    found = [
        c for c in loaded.config.connectors if c.type == "powerschool" and (name is None or c.name == name)
    ]
    if len(found) != 1:
        names = ", ".join(c.name for c in loaded.config.connectors if c.type == "powerschool") or "none"
        fail(f"name one powerschool connector with --connector (powerschool connectors: {names})")
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)*", plugin_version) or len(plugin_version) > 20:
        fail("--plugin-version is digits and dots, at most 20 characters")
    options = Options.model_validate(found[0].options)
    try:
        data, summary = plugin.for_options(
            options, publisher=publisher or loaded.config.district.name, email=email, version=plugin_version
        )
    except ValueError as exc:
        fail(str(exc))
    Path(out).write_bytes(data)
    click.echo(
        f"{out}: plugin {plugin.NAME} {plugin_version} for connector {found[0].name}: "
        f"{summary.fields} fields of {summary.tables} tables (ViewOnly), {summary.queries} named queries"
    )
