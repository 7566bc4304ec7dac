"""A valid Portico config for a test: in memory, or as the YAML file the ``portico`` CLI reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cache.keys.crypto import new_kek_line
from config.secrets import SecretResolver
from config.settings import PorticoConfig


def key_file(tmp_path: Path) -> Path:
    """``tmp_path/kek.key``, made once."""
    path = tmp_path / "kek.key"
    if not path.exists():
        path.write_text(new_kek_line("kek-test") + "\n")
    return path


def raw_config(tmp_path: Path, db_url: str, **overrides: Any) -> dict[str, Any]:
    """The config as YAML would hold it: one district, the cache at ``db_url`` with its
    keystore and key file in ``tmp_path``, one connector ``sis``; top-level sections replaced
    by ``overrides``."""
    raw: dict[str, Any] = {
        "district": {"name": "Test District", "timezone": "America/New_York"},
        "cache": {
            "url": db_url,
            "kek": {"file": str(key_file(tmp_path))},
            "keystore_url": f"sqlite:///{tmp_path / 'keys.db'}",
        },
        "connectors": [{"name": "sis", "type": "powerschool", "options": {}}],
    }
    raw.update(overrides)
    return raw


def make_config(tmp_path: Path, db_url: str, **overrides: Any) -> tuple[PorticoConfig, SecretResolver]:
    return PorticoConfig.model_validate(raw_config(tmp_path, db_url, **overrides)), SecretResolver(
        base_dir=tmp_path
    )


def write_yaml(path: Path, config: PorticoConfig | dict[str, Any]) -> Path:
    """``config`` written as YAML to ``path`` (a model as it would be written by hand)."""
    raw = config.model_dump(mode="json", exclude_none=True) if isinstance(config, PorticoConfig) else config
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path
