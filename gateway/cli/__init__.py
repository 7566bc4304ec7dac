"""The ``portico`` command: every operator action, each with ``--help``."""

from __future__ import annotations

import click

from gateway.cli import (  # breach_cmds adds `keys rotate`
    breach_cmds,
    corrections_cmds,
    ops_cmds,
    privacy_cmds,
)
from gateway.cli.access_cmds import access_group, accounts_group
from gateway.cli.alerts_cmds import alerts_group
from gateway.cli.common import CONFIG_OPTION
from gateway.cli.config_cmds import config_group, keys_group
from gateway.cli.db_cmds import db_group
from gateway.cli.demo_cmds import demo_cmd
from gateway.cli.powerschool_cmds import powerschool_group
from gateway.cli.serve_cmds import COMMANDS as SERVE_COMMANDS
from gateway.cli.simulate_cmds import simulate_group
from gateway.cli.sync_cmds import sync_group


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="portico", prog_name="portico", message="%(prog)s %(version)s")
@CONFIG_OPTION
@click.pass_context
def main(ctx: click.Context, config_path: str) -> None:
    """Portico: a read-only parent-portal gateway in front of a school district's SIS.

    Every command reads the YAML config named by --config (or $PORTICO_CONFIG) and
    refuses to start when it is invalid.
    """
    ctx.obj = {"config_path": config_path}


main.add_command(config_group)
main.add_command(keys_group)
main.add_command(db_group)
main.add_command(sync_group)
main.add_command(simulate_group)
main.add_command(demo_cmd)
main.add_command(powerschool_group)
for _cmd in (
    *SERVE_COMMANDS,
    *privacy_cmds.COMMANDS,
    *ops_cmds.COMMANDS,  # status (--json), doctor, backup
    corrections_cmds.corrections_group,
    breach_cmds.breach_group,
):
    main.add_command(_cmd)
main.add_command(accounts_group)
main.add_command(access_group)
main.add_command(alerts_group)
