"""What every command shares: loading and validating the config, opening the application, output."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click

from cache.store import Cache, open_cache
from config.errors import PorticoError, SchemaVersionError
from config.loader import LoadedConfig
from config.secrets import SecretResolver
from gateway.bootstrap import Application, build_application
from gateway.cli import checks

CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    envvar="PORTICO_CONFIG",
    default="portico.yaml",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The YAML config file.",
)


def fail(message: str, code: int = 2) -> NoReturn:
    click.secho(message, fg="red", err=True)
    sys.exit(code)


def load_valid(path: str, *, against_world: bool = False) -> LoadedConfig:
    """Load the config and every connector's options; exit listing all problems if any
    (``gateway/cli/checks.py``). ``against_world`` adds what is outside the file: the key
    file, secret references and export folders. ``config validate`` runs them; a command
    meets a missing secret when it opens what needs it, and a sync judges an export folder
    when it reads it."""
    loaded, problems = checks.check(path, world=against_world)
    if problems or loaded is None:
        fail(checks.problems_text(path, problems))
    return loaded


def config_of(ctx: click.Context) -> LoadedConfig:
    obj: dict[str, Any] = ctx.find_root().obj
    if "loaded" not in obj:
        obj["loaded"] = load_valid(obj["config_path"])
        # Every command logs through the redaction step, not only serve/worker/api
        # (unless the embedding process, e.g. a test, has configured logging itself).
        import structlog

        from gateway.ops.logging import configure_logging

        if not structlog.is_configured():
            configure_logging(obj["loaded"].config.logging)
    return obj["loaded"]  # type: ignore[no-any-return]


def secrets_of(loaded: LoadedConfig) -> SecretResolver:
    return SecretResolver(base_dir=loaded.base_dir)


def cache_of(ctx: click.Context) -> Cache:
    obj: dict[str, Any] = ctx.find_root().obj
    if "cache" not in obj:
        loaded = config_of(ctx)
        try:
            obj["cache"] = open_cache(loaded.config, secrets_of(loaded))
        except PorticoError as exc:
            fail(_open_failure(exc))
        ctx.call_on_close(obj["cache"].dispose)
    return obj["cache"]  # type: ignore[no-any-return]


def app_of(ctx: click.Context) -> Application:
    """The command's application (config, cache, mailer), wired by :mod:`gateway.bootstrap`."""
    obj: dict[str, Any] = ctx.find_root().obj
    if "app" not in obj:
        loaded = config_of(ctx)
        obj["app"] = build_application(
            loaded.config, base_dir=loaded.base_dir, secrets=secrets_of(loaded), cache=cache_of(ctx)
        )
    return obj["app"]  # type: ignore[no-any-return]


def application(loaded: LoadedConfig) -> Application:
    """An application for a config loaded outside a click context (the demo)."""
    try:
        return build_application(loaded.config, base_dir=loaded.base_dir, secrets=secrets_of(loaded))
    except PorticoError as exc:
        fail(_open_failure(exc))


def _open_failure(exc: PorticoError) -> str:
    if isinstance(exc, SchemaVersionError):
        return "cannot open the cache:\n" + "\n".join(f"  - {problem}" for problem in exc.problems)
    return f"cannot open the cache: {exc}"
