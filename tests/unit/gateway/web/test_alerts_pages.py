"""The alerts page (a form over the same preferences as the API) and the one-click unsubscribe."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.access import sessions
from gateway.alerts import prefs, unsubscribe
from tests.support.alerts import Family, family
from tests.support.web import csrf_of


@pytest.fixture
def fam(tmp_path: Path, sqlite_url: str) -> Iterator[Family]:
    f = family(tmp_path, sqlite_url)
    yield f
    f.app.dispose()


def signed_in(f: Family, c: TestClient, account_id: str) -> None:
    with f.app.cache.engine.begin() as conn:
        token, _ = sessions.create(conn, account_id, f.app.config.access)
    c.cookies.set("portico_session", token)


def test_the_form_saves_each_child_s_choices_and_names_a_bad_field(fam: Family) -> None:
    with TestClient(fam.app.api(), base_url="http://127.0.0.1") as c:
        signed_in(fam, c, fam.mum)
        account = c.get("/account")
        assert 'href="/account/alerts"' in account.text
        page = c.get("/account/alerts")
        assert page.status_code == 200 and "First0" in page.text and "First1" in page.text
        ids = sorted(set(re.findall(r'name="([\w-]{22})\.absence"', page.text)))
        assert len(ids) == 2
        form = {"csrf": csrf_of(page.text), f"{ids[0]}.absence": "weekly", "threshold": "40", "quiet": "off"}
        done = c.post("/account/alerts", data=form, follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == "/account/alerts?done=1"
        with fam.app.cache.engine.connect() as conn:
            saved = prefs.load(conn, fam.mum)
        assert (
            saved.children[ids[0]]["absence"] == "weekly" and saved.threshold == 40 and saved.quiet == "off"
        )
        bad = c.post(
            "/account/alerts",
            data={"csrf": csrf_of(page.text), "threshold": "lots", "quiet": "custom", "quiet_start": "9pm"},
        )
        assert bad.status_code == 400
        assert 'href="#threshold"' in bad.text and 'href="#quiet_start"' in bad.text
        forged = c.post("/account/alerts", data={f"{ids[0]}.absence": "off"})
        assert forged.status_code == 403


def test_one_click_unsubscribe_turns_that_kind_off_without_a_session_and_a_get_changes_nothing(
    fam: Family,
) -> None:
    keyring = fam.app.cache.keyring
    url = unsubscribe.unsubscribe_url(keyring, fam.app.config, fam.mum, "behaviour")
    path = url.removeprefix("https://portal.example.org")
    with TestClient(fam.app.api(), base_url="http://127.0.0.1") as c:
        shown = c.get(path)
        assert shown.status_code == 200 and "Stop these emails" in shown.text
        with fam.app.cache.engine.connect() as conn:
            assert prefs.load(conn, fam.mum) == prefs.Prefs()
        # As a mail client sends it (RFC 8058): no cookie, no CSRF token.
        r = c.post(
            path,
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 200
        with fam.app.cache.engine.connect() as conn:
            after = prefs.load(conn, fam.mum)
        settings = fam.app.config.alerts
        assert after.mode(settings, "any-child", "behaviour") == "off"
        assert after.mode(settings, "any-child", "absence") == "instant"
        # A token for another scope, another account, or altered, changes nothing.
        forged = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
        assert c.post(forged).status_code == 404
        other = path.replace(fam.mum, fam.dad)
        assert c.post(other).status_code == 404
        with fam.app.cache.engine.connect() as conn:
            assert prefs.load(conn, fam.dad) == prefs.Prefs()


def test_a_digest_s_unsubscribe_turns_off_every_kind_the_digest_carries(fam: Family) -> None:
    settings = fam.app.config.alerts
    with fam.app.cache.engine.begin() as conn:
        prefs.save(conn, fam.mum, prefs.Prefs({"kid": {"late": "daily", "report": "weekly"}}), fam.clock())
        unsubscribe.apply(conn, fam.app.config, fam.mum, "daily", fam.clock())
        after = prefs.load(conn, fam.mum)
    assert after.mode(settings, "kid", "late") == "off"
    assert after.mode(settings, "kid", "behaviour") == after.mode(settings, "other", "behaviour") == "off"
    assert after.mode(settings, "kid", "report") == "weekly"
    assert after.mode(settings, "other", "absence") == "instant"
