"""No outbound network except the configured SIS (connectors) and SMTP (gateway.ops.mail)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import REPO

NETWORK = {
    "httpx",
    "requests",
    "urllib.request",
    "urllib3",
    "socket",
    "smtplib",
    "http.client",
    "aiohttp",
    "ftplib",
}
# The only modules outside connectors/ allowed a network library, and which one.
ALLOWED = {"gateway/ops/mail.py": {"smtplib"}}


def network_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        found |= {n for n in names if n in NETWORK or n.split(".")[0] in NETWORK - {"urllib"}}
    return found


def test_only_connectors_and_the_mail_module_import_a_network_library() -> None:
    offenders = {}
    for package in ("cache", "gateway", "config"):
        for path in sorted((REPO / package).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            extra = network_imports(path) - ALLOWED.get(rel, set())
            if extra:
                offenders[rel] = sorted(extra)
    assert offenders == {}
    assert network_imports(REPO / "gateway" / "ops" / "mail.py") == {"smtplib"}  # the check can see an import
