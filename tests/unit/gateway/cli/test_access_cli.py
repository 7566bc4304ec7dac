"""``portico access ...`` and ``portico accounts ...`` against a synced district."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import cli_world, run
from tests.support.world import World


@pytest.fixture
def s(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    # "continues": an adult's parents keep access on age alone, so only the request ends it.
    access = {"adult_parent_access": "continues"}
    mail = {"backend": "outbox", "outbox_dir": str(tmp_path / "outbox")}
    served = cli_world(tmp_path, sqlite_url, monkeypatch, access=access, mail=mail)
    yield served
    served.close()


def test_hold_list_and_release_from_the_command_line(s: World, tmp_path: Path) -> None:
    kid, _, apart = s.district.cases.split_household
    account = s.ensure_account("guardian", apart)
    code, out = run(
        tmp_path, "access", "hold", "--contact", apart, "--kind", "aup-breach", "--reason", "shared login"
    )
    assert code == 0, out
    assert s.visible(account.id) == set()
    code, out = run(tmp_path, "access", "list")
    assert "contact\taup-breach" in out and "shared login" not in out
    code, out = run(tmp_path, "access", "release", "--contact", apart)
    assert code == 0 and "1 hold released" in out
    assert s.visible(account.id) == {s.ref("student", kid)}


def test_a_student_request_is_refused_under_18_and_recorded_for_an_adult(s: World, tmp_path: Path) -> None:
    c = s.district.cases
    code, out = run(tmp_path, "access", "student-request", "--student", c.student_login)
    assert code == 2 and "under 18" in out
    father = next(ln.contact_id for ln in s.district.iter("link") if ln.student_id == c.adult)  # type: ignore[union-attr]
    account = s.ensure_account("guardian", father)
    assert s.ref("student", c.adult) in s.visible(account.id)
    code, out = run(tmp_path, "access", "student-request", "--student", c.adult)
    assert code == 0, out
    assert s.ref("student", c.adult) not in s.visible(account.id)


def test_invite_writes_an_activation_mail_and_disable_ends_sessions(s: World, tmp_path: Path) -> None:
    cid = s.district.cases.two_child_contact
    code, out = run(tmp_path, "accounts", "invite", "--contact", cid)
    assert code == 0 and "invitations sent: 1" in out, out
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    account = s.ensure_account("guardian", cid)
    h = s.headers(account.id)
    code, out = run(tmp_path, "accounts", "disable", "--contact", cid)
    assert code == 0 and "disabled" in out
    assert s.get("/v1/me", h).status_code == 401


def test_hold_changes_are_recorded_in_the_audit_chain_and_hidden_from_parents(
    tmp_path: Path, sqlite_url: str
) -> None:
    from sqlalchemy import text

    from cache.store import open_cache
    from gateway.access import holds
    from gateway.privacy import audit
    from gateway.privacy.accesslog import HIDDEN_CATEGORIES
    from tests.support.config import make_config

    config, secrets = make_config(tmp_path, sqlite_url)
    cache = open_cache(config, secrets)
    try:
        with cache.engine.begin() as conn:
            holds.place(
                conn,
                cache.keyring,
                source="sis",
                subject="student",
                ref="S" * 22,
                kind="child-protection",
                reason="pending investigation",
                by="cli:officer",
            )
            holds.release(conn, source="sis", subject="student", ref="S" * 22, kind=None, by="cli:officer")
        with cache.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT category, action, actor_kind FROM audit_event ORDER BY id")
            ).all()
            assert [tuple(r) for r in rows] == [("hold", "hold", "operator"), ("hold", "release", "operator")]
            assert audit.verify(conn).ok
        assert "hold" in HIDDEN_CATEGORIES
    finally:
        cache.dispose()
