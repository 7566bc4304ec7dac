"""The synthetic district behind the portal, served on loopback for a real browser."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gateway.access import accounts
from gateway.ops.mail import Message
from gateway.web import mount
from simulators.powerschool.server import run_in_thread
from tests.district_app import Served, serve

CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Headless Debian Chromium, no sandbox (CI runs as root), nothing fetched from the network.
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@dataclass
class Inbox:
    """The app's mailer: messages kept in memory, read by the test."""

    messages: list[Message] = field(default_factory=list)

    def send(self, message: Message) -> None:
        self.messages.append(message)

    def link(self, to: str, path: str) -> str:
        body = next(m.body for m in reversed(self.messages) if m.to == to)
        return next(line for line in body.splitlines() if path in line).strip()


@dataclass
class Portal:
    served: Served
    url: str
    inbox: Inbox

    def username(self, role: str, source_id: str) -> str:
        account = self.served.account_of(role, source_id)
        assert account is not None
        return accounts.username_of(self.served.cache.keyring, account)


def browser_or_skip() -> None:
    """Chromium is installed by scripts/setup_browser; CI must have it, elsewhere skip with why."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is not installed (scripts/setup_browser installs it as root)"
        if IN_CI:
            pytest.fail(reason + "; CI must run the browser tests")
        pytest.skip(reason)


def live_portal(tmp: Path, **config: object) -> Iterator[Portal]:
    served = serve(tmp, f"sqlite:///{tmp / 'cache.db'}", **config)
    app = served.client.app
    mount.install(app)  # type: ignore[arg-type]
    inbox = Inbox()
    app.state.portico.mailer = inbox  # type: ignore[attr-defined]
    url, stop = run_in_thread(app)
    try:
        yield Portal(served, url, inbox)
    finally:
        stop()
        served.close()


def fresh_screenshots() -> Path:
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS
