"""The shipped systemd units (deploy/systemd) as systemd itself reads them: `systemd-analyze
verify` accepts each with no warning (an unknown or misspelt key is only a warning to systemd,
and the hardening it names would silently not apply), pointing at this checkout's `portico`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO

UNITS = sorted((REPO / "deploy" / "systemd").glob("*.service"))
SHIPPED_BINARY = "/opt/portico/venv/bin/portico"


def verify(unit: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here (Debian: the systemd package)")
    portico = Path(sys.executable).parent / "portico"
    text = unit.read_text()
    assert SHIPPED_BINARY in text, f"{unit.name}: ExecStart no longer runs {SHIPPED_BINARY}"
    copy = folder / unit.name
    copy.write_text(text.replace(SHIPPED_BINARY, str(portico)))
    return subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_systemd_accepts_each_shipped_unit_without_a_warning(unit: Path, tmp_path: Path) -> None:
    out = verify(unit, tmp_path)
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr


def test_a_misspelt_hardening_key_is_caught(tmp_path: Path) -> None:
    broken = tmp_path / "in" / "portico-api.service"
    broken.parent.mkdir()
    text = (REPO / "deploy" / "systemd" / "portico-api.service").read_text()
    broken.write_text(text.replace("ProtectHome=yes", "ProtectHomee=yes"))
    out = verify(broken, tmp_path)
    assert "ProtectHomee" in out.stderr
