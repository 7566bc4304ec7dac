"""``portico config validate`` and ``portico keys generate``."""

from __future__ import annotations

import os
from pathlib import Path

import click

from cache.keys.crypto import new_kek_line
from gateway.cli.common import load_valid


@click.group("config")
def config_group() -> None:
    """Check configuration files."""


@config_group.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
def validate_cmd(file: str) -> None:
    """Report every problem in FILE (file, key path, line, what was expected)."""
    loaded = load_valid(file, against_world=True)
    names = ", ".join(f"{c.name} ({c.type})" for c in loaded.config.connectors)
    click.echo(f"{file}: valid. Connectors: {names}.")


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
