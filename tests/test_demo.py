"""``portico demo`` sets up, syncs both demo sources and prints logins that work."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from gateway.cli import main


def test_the_demo_syncs_both_sources_and_prints_usable_logins(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["demo", "--dir", str(tmp_path / "demo"), "--students", "40", "--no-serve"]
    )
    assert result.exit_code == 0, result.output
    assert "district: run 1 published" in result.output
    assert re.search(r"school: run \d+ published", result.output)
    logins = re.findall(r"^  (.+?)\s{2,}(\S+@\S+)\s+(\S+)$", result.output, re.M)
    labels = {label.strip() for label, _, _ in logins}
    assert {
        "parent of two children",
        "split household, parent A",
        "student (own records)",
        "UK school parent (CSV)",
    } <= labels
    # The SIS credentials are named by environment variable; no secret is written to YAML.
    config = (tmp_path / "demo" / "portico.yaml").read_text()
    assert "client_secret:\n      env: PORTICO_DEMO_PS_CLIENT_SECRET" in config
