"""The portal for tests: through TestClient with CSRF as a browser posts, and live on loopback for
headless Chromium (axe, keyboard, screenshots)."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe

from cache.tables.accounts import Account
from gateway.access import accounts
from gateway.ops.mail import Message
from gateway.web import mount
from simulators.powerschool.server import run_in_thread
from tests.support import REPO
from tests.support.world import PASSWORD, World, build_world, cheap_hashing

CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Headless Debian Chromium, no sandbox (CI runs as root), nothing fetched from the network.
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
SCREENSHOTS = REPO / "test-output" / "screenshots"
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
    served: World
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
    served = build_world(tmp, f"sqlite:///{tmp / 'cache.db'}", **config)  # type: ignore[arg-type]
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


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form"
    return found.group(1)


class Browser:
    """One browser's cookie jar on the portal."""

    def __init__(self, served: World, base_url: str = "http://127.0.0.1") -> None:
        self.served = served
        self.client = served.client
        self.client.base_url = httpx.URL(base_url)
        self.client.cookies.clear()

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.get(path, follow_redirects=False, **kw)

    def post(self, path: str, form: dict[str, str], *, from_page: str | None = None) -> httpx.Response:
        """Post ``form`` with the CSRF token of ``from_page`` (default: the page posted to)."""
        token = csrf_of(self.get(from_page or path.split("?")[0]).text)
        return self.client.post(path, data={"csrf": token, **form}, follow_redirects=False)

    def sign_in(self, username: str, password: str = PASSWORD) -> httpx.Response:
        r = self.post("/sign-in", {"username": username, "password": password})
        assert r.status_code == 303, r.text
        return r


def portal(tmp_path: Path, **config: Any) -> Iterator[World]:
    served = build_world(tmp_path, f"sqlite:///{tmp_path / 'cache.db'}", **config)
    mount.install(served.client.app)  # type: ignore[arg-type]
    try:
        yield served
    finally:
        served.close()


def cheap_portal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **config: Any) -> Iterator[World]:
    """:func:`portal` with test-sized password hashing, for tests of pages, not of hashing cost."""
    cheap_hashing(monkeypatch)
    yield from portal(tmp_path, **config)


def signed_in_guardian(served: World) -> tuple[Browser, Account]:
    """A browser signed in as the synthetic district's guardian of two children, and the account."""
    account = served.ensure_account("guardian", served.district.cases.two_child_contact)
    b = Browser(served)
    b.sign_in(accounts.username_of(served.cache.keyring, account))
    return b, account


# WCAG 2.0, 2.1 and 2.2, levels A and AA (2.2 AA brings target-size, 2.5.8).
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
    "resultTypes": ["violations"],
}
_axe = Axe()


def check(page: Any, name: str, folder: Path) -> None:
    """axe over the page finds no violation; then screenshots at phone and desktop widths."""
    results = _axe.run(page, options=AXE_OPTIONS)
    violations = results.response["violations"]
    summary = [
        {"rule": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in violations
    ]
    assert not violations, f"{name}: axe found {json.dumps(summary, indent=1)}"
    for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(size)
        page.screenshot(path=str(folder / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(PHONE)


def sign_in(page: Any, username: str, password: str = PASSWORD) -> None:
    page.goto("/sign-in")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("form[action='/sign-in'] button[type=submit]")


def tab_to(page: Any, selector: str, limit: int = 60) -> None:
    """Press Tab until ``selector`` has the focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} never got the keyboard focus")
