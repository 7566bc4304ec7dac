"""What the browser tests do on a page: sign in, move by keyboard, run axe, take screenshots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe

from tests.district_app import PASSWORD
from tests.web.portal import DESKTOP, PHONE

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
