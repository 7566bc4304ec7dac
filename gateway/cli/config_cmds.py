"""``portico config validate|show`` and ``portico keys generate``."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import click
import yaml
from pydantic import BaseModel

from cache.keys.crypto import new_kek_line
from config.errors import PorticoError
from config.loader import LoadedConfig
from config.secrets import SecretRef, SecretResolver
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
_NO_FIELD = object()


def shown(model: BaseModel, *, exclude_none: bool = False) -> dict[str, Any]:
    """``model`` as plain data to print: every :class:`SecretRef` field as its reference
    (``{env: NAME}`` or ``{file: PATH}``, never read, so never its value), and the password
    of any URL (``scheme://user:PASSWORD@host``) replaced by ``<redacted>``.

    What is a secret is decided by the field's type, not by its name: a setting called
    ``family_token_max_lifetime`` or ``token_path`` prints as it is."""
    data: dict[str, Any] = model.model_dump(mode="json", exclude_none=exclude_none)
    return _shown(model, data)  # type: ignore[no-any-return]


def _shown(value: Any, data: Any) -> Any:
    """``data`` (``value`` dumped as JSON) with ``value``'s secret references and URL passwords
    shown as :func:`shown` says; ``value`` is ``_NO_FIELD`` where the dump has no field behind it."""
    if isinstance(value, SecretRef):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(data, dict):
        if isinstance(value, BaseModel):
            fields = type(value).model_fields
            return {k: _shown(getattr(value, k) if k in fields else _NO_FIELD, v) for k, v in data.items()}
        if isinstance(value, dict) and len(value) == len(data):
            return {k: _shown(v, d) for v, (k, d) in zip(value.values(), data.items(), strict=True)}
        return {k: _shown(_NO_FIELD, v) for k, v in data.items()}
    if isinstance(data, list):
        if isinstance(value, list | tuple) and len(value) == len(data):
            return [_shown(v, d) for v, d in zip(value, data, strict=True)]
        return [_shown(_NO_FIELD, d) for d in data]
    if isinstance(data, str):
        return _URL_PASSWORD.sub(r"\g<head><redacted>@", data)
    return data


def effective(loaded: LoadedConfig) -> dict[str, Any]:
    """The configuration in effect: the file, its PORTICO_... overrides and every default,
    shown as :func:`shown` says (secrets as references, URL passwords redacted)."""
    data = shown(loaded.config)
    for i, cs in enumerate(loaded.config.connectors):
        model = registry.get(cs.type).options_model.model_validate(cs.options)
        data["connectors"][i]["options"] = shown(model, exclude_none=True)
    return data


@config_group.command("show")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.pass_context
def show_cmd(ctx: click.Context, file: str | None) -> None:
    """Print the configuration in effect as YAML: FILE (default: --config) with its
    PORTICO_<SECTION>__<KEY> environment overrides applied and every default filled in.

    Passwords in URLs are redacted; secrets are shown only as the reference
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
