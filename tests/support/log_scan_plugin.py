"""pytest plugin: the whole suite logs at debug level (JSON, through redaction) into one file, scanned at the end.

Run it with ``scripts/log_scan``. The scan looks for what must never be logged: the
synthetic district's names (whole words of four letters or more), any email address,
the passwords the tests use, and bearer-token-shaped strings. Any hit fails the run.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any, TextIO

import pytest

from config.settings import LoggingSettings
from gateway.ops.logging import configure_logging
from simulators.district.names import FAMILY_NAMES, FIRST_NAMES
from tests.support import REPO

_state: dict[str, Any] = {}
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
TOKEN = re.compile(r"(?<![\w-])[A-Za-z0-9_-]{43}(?![\w-])")
PASSWORD_LITERAL = re.compile(r"""password["']?\s*[:=]\s*["']([^"'\n]{8,})["']""", re.I)


def _apply(stream: TextIO) -> None:
    configure_logging(LoggingSettings(level="debug", format="json"), stream=stream)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)


def pytest_configure(config: pytest.Config) -> None:
    path = Path(
        os.environ.get("PORTICO_LOG_SCAN_FILE") or Path(tempfile.gettempdir()) / "portico-log-scan.jsonl"
    )
    _state["path"] = path
    _state["stream"] = path.open("w", encoding="utf-8")
    _apply(_state["stream"])


def pytest_runtest_setup(item: pytest.Item) -> None:
    _apply(_state["stream"])  # a test may have reconfigured logging; every test logs here


def needles() -> dict[str, re.Pattern[str]]:
    names = sorted({n for n in (*FIRST_NAMES, *FAMILY_NAMES) if len(n) >= 4 and n.isalpha()})
    passwords = sorted(
        {m for p in (REPO / "tests").rglob("*.py") for m in PASSWORD_LITERAL.findall(p.read_text())}
    )
    return {
        "name": re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, names)) + r")(?![\w-])"),
        "email": EMAIL,
        "password": re.compile("|".join(map(re.escape, passwords)) or r"(?!x)x"),
        "token": TOKEN,
    }


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stream: TextIO = _state["stream"]
    stream.flush()
    lines = _state["path"].read_text(encoding="utf-8").splitlines()
    hits: dict[str, list[str]] = {}
    for kind, pattern in needles().items():
        hits[kind] = [ln for ln in lines if pattern.search(ln)]
    total = sum(len(v) for v in hits.values())
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    say = reporter.write_line if reporter else print
    say(
        f"log scan: {len(lines)} log lines in {_state['path']}; hits: "
        + ", ".join(f"{k} {len(v)}" for k, v in hits.items())
    )
    for kind, found in hits.items():
        for ln in found[:3]:
            say(f"  {kind}: {ln[:300]}")
    if total:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
