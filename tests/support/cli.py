"""The ``portico`` command line over a served world: a ``portico.yaml`` naming the world's
cache, with a connector that is never built, and ``run`` to invoke a command on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from connectors import registry
from gateway.cli import main
from tests.support.config import raw_config, write_yaml
from tests.support.world import World, build_world, cheap_hashing


class NoOptions(BaseModel):
    pass


def _never_built(name: str, options: object, ctx: object) -> object:
    raise AssertionError("the account and access commands never build a connector")


FAKE_TYPE = registry.ConnectorType("fake", NoOptions, _never_built)  # type: ignore[arg-type]


def cli_world(
    tmp_path: Path,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    access: dict[str, Any] | None = None,
    **config: Any,
) -> World:
    """The world synced with ``access`` settings, and ``tmp_path/portico.yaml`` for the CLI
    with the same ``access`` and the other top-level sections in ``config``."""
    cheap_hashing(monkeypatch)
    monkeypatch.setitem(registry._BUILTINS, "fake", f"{__name__}:FAKE_TYPE")
    same: dict[str, Any] = {"access": access} if access is not None else {}
    served = build_world(tmp_path, sqlite_url, **same)
    raw = raw_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'cache.db'}",
        connectors=[{"name": "sis", "type": "fake"}],
        **same,
        **config,
    )
    write_yaml(tmp_path / "portico.yaml", raw)
    return served


def run(tmp_path: Path, *args: str) -> tuple[int, str]:
    """``portico --config tmp_path/portico.yaml ARGS``: its exit code and output."""
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "portico.yaml"), *args])
    return result.exit_code, result.output
