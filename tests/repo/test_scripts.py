"""Every command in scripts/ answers ``--help`` with what it does and how to call it, and
does nothing else: no set-up, no install, no run."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.support import REPO

SCRIPTS = sorted(
    p for p in (REPO / "scripts").iterdir() if p.is_file() and not p.suffix and os.access(p, os.X_OK)
)


# What the scripts install when it is missing, and the package tools they install it with.
INSTALLED = ("wrk", "haproxy", "nginx", "chromium", "chromedriver")
INSTALLERS = ("apt-get", "apt", "dpkg", "sudo")


def _help(script: Path, venv: str = sys.prefix, path: str | None = None) -> tuple[str, int, str]:
    # By default the venv this suite runs in: the scripts' set-up finds it installed.
    env = {**os.environ, "VENV": venv, **({"PATH": path} if path else {})}
    done = subprocess.run(  # noqa: S603 - the repo's own scripts
        [str(script), "--help"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    return script.name, done.returncode, done.stdout + done.stderr


def _bare_machine(tmp: Path) -> tuple[str, Path]:
    """A PATH with every command of this machine except what the scripts install, and
    package tools that only write down that they were called: a fresh machine on which
    an install would be attempted (two at once fight over Debian's lock, as once seen)."""
    bin_dir, called = tmp / "bin", tmp / "installs"
    bin_dir.mkdir()
    for d in os.environ["PATH"].split(os.pathsep):
        if not Path(d).is_dir() or Path(d).resolve() == Path(sys.prefix, "bin").resolve():
            continue
        for tool in Path(d).iterdir():
            target = bin_dir / tool.name
            if (
                tool.name in INSTALLED
                or tool.name in INSTALLERS
                or target.exists()
                or not os.access(tool, os.X_OK)
            ):
                continue
            target.symlink_to(tool)
    for tool in INSTALLERS:
        fake = bin_dir / tool
        fake.write_text(f'#!/bin/sh\necho "{tool} $*" >> {called}\nexit 97\n')
        fake.chmod(0o755)
    return f"{sys.prefix}/bin{os.pathsep}{bin_dir}", called


def test_every_script_answers_help_with_its_usage_and_installs_nothing(tmp_path: Path) -> None:
    assert len(SCRIPTS) > 10, "scripts/ not found"
    path, called = _bare_machine(tmp_path)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda s: _help(s, path=path), SCRIPTS))
    bad = [
        f"scripts/{name} --help: exit {code}, {'no usage line' if code == 0 else out[-300:]}"
        for name, code, out in answers
        if code != 0 or "usage" not in out.lower()
    ]
    assert bad == []
    assert not called.exists(), called.read_text()


def test_a_script_with_positional_arguments_prints_its_header_and_stops_before_set_up(tmp_path: Path) -> None:
    """``--help`` is answered before the set-up: no virtual environment is made."""
    venv = tmp_path / "venv"
    name, code, out = _help(REPO / "scripts" / "bench_district", str(venv))
    assert not venv.exists()
    assert (code, out.splitlines()[-1]) == (0, "Usage: scripts/bench_district [students]")
    assert "Generation speed of the synthetic district" in out
    assert "Traceback" not in out


def test_the_replica_run_refuses_a_kill_outside_its_run_before_starting_anything() -> None:
    """`scripts/replicas --seconds 15` (the kill at its default 20 s) would have run the load
    and then waited for a replica that was never killed: a traceback after a minute."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "tests.support.replicas", "--seconds", "15"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--kill-at 20 must fall inside the run: 0 to --seconds 15" in done.stderr
