"""``portico config validate`` and ``portico keys generate``."""

from __future__ import annotations

import os
from pathlib import Path

import click

from cache.keys.crypto import new_kek_line
from config.errors import PorticoError
from config.secrets import SecretResolver
from connectors import registry
from connectors.base import AccessSampler, BuildContext
from gateway.access import rule_record
from gateway.cli.common import load_valid


@click.group("config")
def config_group() -> None:
    """Check configuration files."""


@config_group.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--sample",
    default=100_000,
    show_default=True,
    help="How many of each export's student-contact links to run the access rule over.",
)
def validate_cmd(file: str, sample: int) -> None:
    """Report every problem in FILE (file, key path, line, what was expected).

    For each source decided by a written access rule, print the rule and what each of
    its lines grants and refuses over the export as it is now, so the rule can be
    checked before any parent gets access. Nothing is published.
    """
    loaded = load_valid(file, against_world=True)
    names = ", ".join(f"{c.name} ({c.type})" for c in loaded.config.connectors)
    click.echo(f"{file}: valid. Connectors: {names}.")
    for cs in loaded.config.connectors:
        policy = rule_record.policy_of(loaded.config, cs.name)
        if policy is None:
            click.echo(f"{cs.name}: access: {rule_record.FLAGS_TEXT}")
            continue
        click.echo(f"{cs.name}: access rule {policy.fingerprint()}, over the export now:")
        try:
            ctx = BuildContext(secrets=SecretResolver(base_dir=loaded.base_dir), base_dir=loaded.base_dir)
            connector = registry.build(cs.type, cs.name, cs.options, ctx)
            try:
                lines = (
                    connector.access_sample(sample).lines() if isinstance(connector, AccessSampler) else []
                )
            finally:
                connector.close()
        except PorticoError as exc:
            lines = [*policy.describe(), f"(no sample: {exc})"]
        for line in lines:
            click.echo(f"  {line}")


@click.group("keys")
def keys_group() -> None:
    """Manage key-encryption keys (KEKs)."""


@keys_group.command("generate")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="Key file to create.")
@click.option("--force", is_flag=True, help="Overwrite an existing key file (destroys access to its data).")
def generate_cmd(out: str, force: bool) -> None:
    """Write a new key file holding one 256-bit KEK, readable only by its owner.

    Keep it outside the repository and outside the cache's backups; name it in the
    YAML as cache.kek: {file: PATH}, or pass its contents in an environment variable.
    """
    path = Path(out)
    if path.exists() and not force:
        raise click.ClickException(f"{out} exists; use --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("# Portico key-encryption keys: '<id> <base64>'; the last line is active.\n")
        fh.write(new_kek_line() + "\n")
    click.echo(f"wrote a new key-encryption key to {out} (mode 600)")
