"""Secret references: a secret is named in YAML as ``{env: NAME}`` or ``{file: PATH}``.

The value itself never appears in YAML. ``SecretRef`` is the pydantic type for such
a field; :class:`SecretResolver` turns a reference into the value at start-up, with
an error that names the variable or file but never shows the value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from config.errors import PorticoError


class SecretRef(BaseModel):
    """Where a secret comes from: exactly one of ``env`` or ``file``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = None
    file: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _a_reference(cls, data: Any) -> Any:
        if isinstance(data, SecretRef | dict):
            return data
        # Never echo the value: it may be the secret itself.
        raise ValueError(
            "secrets are never written in the YAML: write {env: NAME} (an environment variable) "
            "or {file: PATH} (a file only Portico's user can read)"
        )

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("a secret names exactly one of 'env' or 'file', never the value itself")
        return self

    def describe(self) -> str:
        return f"environment variable {self.env}" if self.env else f"file {self.file}"


class SecretMissing(PorticoError):
    """A referenced secret is not available; the message names where it was looked for."""


class SecretResolver:
    """Reads secrets from the environment or files (relative to ``base_dir``)."""

    def __init__(self, env: Mapping[str, str] | None = None, base_dir: Path | None = None) -> None:
        self._env = env if env is not None else os.environ
        self._base = base_dir or Path.cwd()

    def resolve(self, ref: SecretRef) -> str:
        if ref.env is not None:
            value = self._env.get(ref.env)
            if not value:
                raise SecretMissing(f"environment variable {ref.env} is not set")
            return value
        assert ref.file is not None
        path = Path(ref.file)
        if not path.is_absolute():
            path = self._base / path
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SecretMissing(f"secret file {ref.file} cannot be read ({exc.strerror})") from None
        if not value:
            raise SecretMissing(f"secret file {ref.file} is empty")
        return value

    def resolve_bytes(self, ref: SecretRef) -> bytes:
        return self.resolve(ref).encode("utf-8")
