"""Fixtures for the portal's browser tests: a live portal on loopback and headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.web import ARGS, CHROMIUM, PHONE, Portal, browser_or_skip, fresh_screenshots, live_portal
from tests.support.world import cheap_hashing


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    mp = pytest.MonkeyPatch()
    cheap_hashing(mp)  # sign-in journeys, not hashing cost
    try:
        yield from live_portal(tmp_path_factory.mktemp("portal"), api={"docs": True})
    finally:
        mp.undo()


@pytest.fixture(scope="session")
def screenshots() -> Any:
    return fresh_screenshots()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    browser_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, portal: Portal) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE, locale="en-US", base_url=portal.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()
