"""A connector type driven by a small JSON file, for CLI, scheduler and kill -9 tests.

The file says how many students the source has, a version tag written into every
record (so two versions differ in content), and whether the source is down. Tests
rewrite it between runs; subprocesses register the type with :func:`install`, or run
``python -m tests.support.fake_source`` (the ``portico`` CLI with the type installed).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from cache.migrations import runner as migrations
from config.errors import SourceUnavailableError
from connectors import registry
from connectors.base import KnownRows, Page, StreamInfo
from connectors.records import Record
from tests.support.config import raw_config, write_yaml
from tests.support.connectors import ListConnector
from tests.support.records import family

MODULE = "tests.support.fake_source"


class FakeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state_file: str
    page_size: int = 50
    page_delay: float = 0.0


def write_state(path: Path, students: int, version: str = "a", down: bool = False) -> None:
    path.write_text(json.dumps({"students": students, "version": version, "down": down}))


def records(students: int, version: str) -> dict[str, list[Record]]:
    return family(students, homeroom=f"8{version}")


class FileSource(ListConnector):
    def __init__(self, name: str, options: FakeOptions) -> None:
        self.options = options
        self.state: dict[str, Any] = json.loads(Path(options.state_file).read_text())
        super().__init__(name, records(self.state["students"], self.state["version"]), options.page_size)

    def streams(self) -> list[StreamInfo]:
        return [StreamInfo("students", ("student",)), StreamInfo("contacts", ("contact", "link"))]

    def read(
        self, stream: str, state: str | None, *, full: bool = False, known: KnownRows | None = None
    ) -> Iterator[Page]:
        if self.state["down"]:
            raise SourceUnavailableError("connection refused")
        for page in super().read(stream, state, full=full, known=known):
            if self.options.page_delay:
                time.sleep(self.options.page_delay)  # a source that takes time: syncs overlap
            yield page


CONNECTOR_TYPE = registry.ConnectorType("fake", FakeOptions, lambda name, opts, _ctx: FileSource(name, opts))


def install() -> None:
    """Make ``type: fake`` resolvable in this process."""
    registry._BUILTINS["fake"] = f"{MODULE}:CONNECTOR_TYPE"


def write_config(tmp_path: Path, db_url: str, *, migrate: bool = True, **connector: Any) -> Path:
    """``tmp_path/portico.yaml`` with one ``fake`` connector named ``sis`` reading
    ``tmp_path/source.json`` (``connector`` overrides its YAML entry), logging JSON; its
    databases upgraded as ``portico db upgrade`` would (unless ``migrate`` is False)."""
    sis: dict[str, Any] = {
        "name": "sis",
        "type": "fake",
        "options": {"state_file": str(tmp_path / "source.json")},
        **connector,
    }
    raw = raw_config(tmp_path, db_url, connectors=[sis], logging={"format": "json"})
    path = write_yaml(tmp_path / "portico.yaml", raw)
    if migrate:
        migrations.upgrade(db_url, f"sqlite:///{tmp_path / 'keys.db'}")
    return path


if __name__ == "__main__":
    install()
    from gateway.cli import main

    main()
