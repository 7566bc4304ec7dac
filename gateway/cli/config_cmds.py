"""``portico config validate|show`` and ``portico keys generate``."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import click
import yaml

from cache.keys.crypto import new_kek_line
from config.errors import PorticoError
from config.loader import LoadedConfig
from config.secrets import SecretResolver
from connectors import registry
from connectors.base import AccessSampler, BuildContext
from gateway.access import rule_record
from gateway.cli.common import load_valid


@click.group("config")
def config_group() -> None:
    """Check configuration files, and show the configuration in effect."""


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


_URL_PASSWORD = re.compile(r"(?P<head>://[^:/@\s]+:)[^@\s]+@")
_SECRET_NAME = re.compile(r"password|secret|token|credential", re.IGNORECASE)


def redacted(value: Any, key: str = "") -> Any:
    """``value`` with passwords in URLs and any literal value under a secret-sounding key
    replaced by ``<redacted>``; secret references (``{env: NAME}``, ``{file: PATH}``) stay,
    since they name where a secret is, not what it is."""
    if isinstance(value, dict):
        if value and set(value) <= {"env", "file"}:
            return {k: v for k, v in value.items() if v is not None}
        return {k: redacted(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v, key) for v in value]
    if isinstance(value, str):
        if _SECRET_NAME.search(key) and not key.endswith(("_policy", "_path", "_notice", "_ttl", "_lifetime")):
            return "<redacted>"
        return _URL_PASSWORD.sub(r"\g<head><redacted>@", value)
    return value


def effective(loaded: LoadedConfig) -> dict[str, Any]:
    """The configuration in effect: the file, its PORTICO_... overrides and every default."""
    data: dict[str, Any] = loaded.config.model_dump(mode="json")
    for i, cs in enumerate(loaded.config.connectors):
        model = registry.get(cs.type).options_model.model_validate(cs.options)
        data["connectors"][i]["options"] = model.model_dump(mode="json", exclude_none=True)
    return redacted(data)  # type: ignore[no-any-return]


@config_group.command("show")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.pass_context
def show_cmd(ctx: click.Context, file: str | None) -> None:
    """Print the configuration in effect as YAML: FILE (default: --config) with its
    PORTICO_<SECTION>__<KEY> environment overrides applied and every default filled in.

    Passwords in database URLs are redacted; secrets are shown only as the reference
    to where they are ({env: NAME} or {file: PATH}), never read.
    """
    path = file or ctx.find_root().obj["config_path"]
    loaded = load_valid(path)
    click.echo(f"# The configuration in effect: {path}, with defaults")
    for at, var in sorted(loaded.overrides.items(), key=lambda kv: kv[1]):
        click.echo(f"# {var} sets {loaded.problem(at, '').key}")
    click.echo(yaml.safe_dump(effective(loaded), sort_keys=False, allow_unicode=True, width=100), nl=False)


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
