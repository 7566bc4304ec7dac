"""The plugin from the CLI, installed on a simulated server over loopback: a grant it lacks is
named, table and field, in the run history and ``portico status``."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from cache.keys.crypto import new_kek_line
from connectors.powerschool import plugin
from connectors.powerschool.options import Options
from gateway.cli import main
from simulators.district.synthetic import DistrictSpec, SyntheticDistrict
from simulators.powerschool.model import CONNECTOR_OPTIONS
from simulators.powerschool.server import make_app, run_in_thread
from tests.support.powerschool_plugin import CID, EMAIL, SECRET, granted, without


def _config(tmp: Path, base_url: str) -> Path:
    (tmp / "kek.key").write_text(new_kek_line() + "\n")
    path = tmp / "portico.yaml"
    opts = {
        "base_url": base_url,
        "client_id": {"env": "PS_ID"},
        "client_secret": {"env": "PS_SECRET"},
        **CONNECTOR_OPTIONS,
    }
    path.write_text(yaml.safe_dump({
        "district": {"name": "Plugin District", "timezone": "America/New_York"},
        "cache": {"url": f"sqlite:///{tmp / 'cache.db'}", "kek": {"file": "kek.key"}},
        "connectors": [{"name": "sis", "type": "powerschool", "options": opts}],
    }))  # fmt: skip
    return path


def test_the_cli_writes_the_plugin_and_a_missing_grant_is_named_in_the_run_history_and_status(
    tmp_path: Path,
) -> None:
    district = SyntheticDistrict(DistrictSpec(seed=5, schools=2, students=30))
    runner = CliRunner(env={"PS_ID": CID, "PS_SECRET": SECRET, "COLUMNS": "250"})
    config = _config(tmp_path, "http://127.0.0.1:1")
    out = tmp_path / "portico-plugin.zip"
    res = runner.invoke(
        main, ["--config", str(config), "powerschool", "plugin", "--out", str(out), "--email", EMAIL]
    )
    assert res.exit_code == 0, res.output
    expected, _ = plugin.for_options(
        Options.model_validate({"base_url": "https://sis.test", "client_id": {"env": "I"},
                                "client_secret": {"env": "S"}, **CONNECTOR_OPTIONS}),
        publisher="x", email=EMAIL,
    )  # fmt: skip
    assert granted(out.read_bytes()) == granted(expected)
    assert f"{len(granted(out.read_bytes()))} fields" in res.output
    upgrade = runner.invoke(main, ["--config", str(config), "db", "upgrade"])
    assert upgrade.exit_code == 0, upgrade.output
    app = make_app(district, client_id=CID, client_secret=SECRET,
                   plugin=without(out.read_bytes(), "ATTENDANCE", "ATTENDANCE_CODEID"))  # fmt: skip
    base_url, stop = run_in_thread(app)
    try:
        config = _config(tmp_path, base_url)
        sync = runner.invoke(main, ["--config", str(config), "sync", "--full"])
        assert sync.exit_code != 0
        assert "ATTENDANCE.ATTENDANCE_CODEID" in sync.output
        status = runner.invoke(main, ["--config", str(config), "status"])
        assert "grant field ATTENDANCE_CODEID of table ATTENDANCE" in status.output, status.output
    finally:
        stop()
    bad = runner.invoke(
        main, ["--config", str(config), "powerschool", "plugin", "--out", str(out), "--email", "x"]
    )
    assert bad.exit_code != 0 and "email" in bad.output
    assert app.state.sim.writes == 0
