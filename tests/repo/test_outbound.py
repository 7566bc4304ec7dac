"""No outbound network except the configured SIS (connectors) and SMTP (gateway.ops.mail)."""

from __future__ import annotations

import ast
import re
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
# Modules that hold the server's own listening socket (inbound: accepting, never connecting
# out), and so may import ``socket``; each is checked to make no socket of its own and to
# connect nowhere.
INBOUND = {"gateway/api/acceptor.py", "gateway/api/server.py"}
CONNECTS = re.compile(r"\.connect(_ex)?\(|create_connection|socket\.socket\(|socket\.create_server")


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
            extra = (
                network_imports(path) - ALLOWED.get(rel, set()) - ({"socket"} if rel in INBOUND else set())
            )
            if extra:
                offenders[rel] = sorted(extra)
    assert offenders == {}
    assert network_imports(REPO / "gateway" / "ops" / "mail.py") == {"smtplib"}  # the check can see an import


def test_the_modules_that_hold_the_listening_socket_connect_nowhere() -> None:
    for rel in sorted(INBOUND):
        text = (REPO / rel).read_text()
        assert network_imports(REPO / rel) == {"socket"}, rel  # still the one import they are allowed
        assert not CONNECTS.search(text), f"{rel} opens or connects a socket"
    assert CONNECTS.search(
        "sock = socket.socket(socket.AF_INET)\nsock.connect((host, 25))"
    )  # the check can see one
