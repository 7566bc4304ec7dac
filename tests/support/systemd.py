"""The shipped systemd units (deploy/systemd) read as systemd reads them: the command a unit
starts, with ``${VAR}`` taken from its ``Environment=`` lines."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from tests.support import REPO

UNITS = REPO / "deploy" / "systemd"


def environment(unit: Path) -> dict[str, str]:
    """The variables a unit's ``Environment=`` lines set (one ``NAME=value`` per line here)."""
    found: dict[str, str] = {}
    for line in unit.read_text().splitlines():
        if line.startswith("Environment="):
            name, value = line.removeprefix("Environment=").split("=", 1)
            found[name] = value
    return found


def exec_start(unit: Path) -> list[str]:
    """The unit's ``ExecStart`` as words, each ``${VAR}`` replaced by its value (systemd.service
    "Command lines": ``${VAR}`` stays one word). An unset variable fails here, as it would
    start the service with an empty argument."""
    env = environment(unit)
    line = next(line for line in unit.read_text().splitlines() if line.startswith("ExecStart="))
    return [
        re.sub(r"\$\{(\w+)\}", lambda m: env[m[1]], word) for word in shlex.split(line[len("ExecStart=") :])
    ]
