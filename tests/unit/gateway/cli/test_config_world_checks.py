"""A bad or missing export folder is judged when a sync reads it: it never stops a command starting."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from click.testing import CliRunner

from cache.keys.crypto import new_kek_line
from gateway.cli import main


def _config(tmp_path: Path) -> Path:
    (tmp_path / "kek.key").write_text(new_kek_line() + "\n")
    path = tmp_path / "portico.yaml"
    path.write_text(yaml.safe_dump({
        "district": {"name": "Folder District", "timezone": "Europe/London"},
        "cache": {"url": f"sqlite:///{tmp_path / 'cache.db'}", "kek": {"file": "kek.key"}},
        "connectors": [{"name": "school", "type": "cloudschool", "options": {
            "path": "export-not-there", "school_id": "100", "school_name": "Maple Grove", "timezone": "Europe/London",
        }}],
    }))  # fmt: skip
    return path


def test_a_missing_export_folder_is_reported_by_validate_and_judged_by_the_sync_not_at_start(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    runner = CliRunner(env={"COLUMNS": "200"})
    validate = runner.invoke(main, ["config", "validate", str(config)])
    assert validate.exit_code != 0 and "export folder not found" in validate.output
    upgrade = runner.invoke(main, ["--config", str(config), "db", "upgrade"])
    assert upgrade.exit_code == 0, upgrade.output
    status = runner.invoke(main, ["--config", str(config), "status"])
    assert status.exit_code == 0, status.output
    sync = runner.invoke(main, ["--config", str(config), "sync"])
    assert sync.exit_code != 0 and "export-not-there" in sync.output
    found = re.search(r"run (\d+)", sync.output)
    assert found, sync.output
    show = runner.invoke(main, ["--config", str(config), "sync", "show", found.group(1)])
    assert show.exit_code == 0 and "failed" in show.output, show.output
