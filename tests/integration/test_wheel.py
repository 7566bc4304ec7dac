"""The wheel is what a district installs: built from this checkout, installed into a
fresh virtual environment, it runs `portico --help`, `--version` and the demo with
everything it needs inside it (migrations, templates, catalogs, static files, the
example config).

The fresh environment holds only the wheel. Its dependencies are the test
environment's own, reached through a path file: this test is about what the wheel
carries, not about the package index (which `scripts/test` already installed from).
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

from tests.support import REPO

PACKAGE_DATA = (
    "cache/migrations/script.py.mako",
    "cache/migrations/versions/c0001_baseline.py",
    "cache/migrations/keystore/k0001_baseline.py",
    "gateway/web/templates/base.html",
    "gateway/web/static/portico.css",
    "gateway/web/locale/es/LC_MESSAGES/messages.po",
    "config/portico.example.yaml",
    "config/password_presets.yaml",
    "config/common_passwords.txt",
)


def _run(args: list[str | Path], cwd: Path, env: dict[str, str], timeout: float = 240) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_wheel_installs_into_a_fresh_environment_and_runs(tmp_path: Path) -> None:
    started = time.monotonic()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PORTICO_", "VIRTUAL_ENV"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", wheels, REPO], tmp_path, env)
    (wheel,) = wheels.glob("portico-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in PACKAGE_DATA if name not in names]
    assert missing == [], f"not in the wheel: {missing}"
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    built = time.monotonic() - started

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], tmp_path, env)
    python = venv / "bin" / "python"
    site = Path(
        _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp_path, env).strip()
    )
    deps = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (site / "_portico_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    _run([python, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", wheel], tmp_path, env)

    # Imported from the fresh environment, not from this checkout or an editable install.
    where = _run(
        [python, "-c", "import gateway, cache; print(gateway.__file__); print(cache.__file__)"], tmp_path, env
    )
    assert all(line.startswith(str(site)) for line in where.split()), where

    portico = venv / "bin" / "portico"
    assert "doctor" in _run([portico, "--help"], tmp_path, env)
    assert _run([portico, "--version"], tmp_path, env).strip() == "portico 0.1.0"
    demo = _run(
        [portico, "demo", "--no-serve", "--students", "40", "--dir", tmp_path / "demo"], tmp_path, env
    )
    assert "Demo logins" in demo and "published" in demo
    # The wheel's migrations: the revisions the demo's cache was built with.
    history = _run([portico, "db", "history"], tmp_path, env)
    assert "c0001" in history and "k0001" in history
    print(f"\n  [figure] wheel built in {built:.1f} s; whole test {time.monotonic() - started:.1f} s")
