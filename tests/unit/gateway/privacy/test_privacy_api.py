"""Families' privacy routes: the access log, the complete export, and correction requests."""

from __future__ import annotations

import datetime as dt
import email
import hashlib
import io
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest
from click.testing import CliRunner
from sqlalchemy import insert, text

from cache.read.reader import CURRENT
from cache.read.visibility import RULE_OF_KIND
from cache.tables.accounts import AccessHold
from cache.types import utcnow
from gateway.cli import main
from gateway.privacy import audit
from tests.support.world import World, login, privacy_world


@pytest.fixture
def world(tmp_path: Path, db_url: str):
    w = privacy_world(tmp_path, db_url)
    yield w
    w.cache.dispose()


def kid_ref(w: World) -> str:
    return w.ref("student", w.district.cases.split_household[0])


def test_the_access_log_shows_reads_with_other_guardians_unnamed_and_no_trace_of_holds(world: World) -> None:
    sid = kid_ref(world)
    dad_contact = world.ref("contact", world.district.cases.split_household[2])
    with world.api() as c:
        mum, dad = login(c, world.users["mum"]), login(c, world.users["dad"])
        assert c.get(f"/v1/students/{sid}", headers=mum).status_code == 200
        assert c.get(f"/v1/students/{sid}/attendance", headers=dad).status_code == 200
        dad_id = c.get("/v1/me", headers=dad).json()["data"]["id"]
        with world.cache.engine.begin() as conn:
            audit.append(
                conn, [audit.Entry("operator", "cli:alice", "export", "allowed", "sis", sid, action="export")]
            )
            audit.append(
                conn,
                [
                    audit.Entry(
                        "operator", "cli:bob", "breach-report", "allowed", "sis", sid, action="investigate"
                    )
                ],
            )
            # A hold on the father (an investigation): his next read is denied.
            conn.execute(
                insert(AccessHold.__table__).values(
                    source="sis",
                    subject="contact",
                    ref=dad_contact,
                    kind="child-protection",
                    created_at=utcnow(),
                    created_by="cli:carol",
                )
            )
        assert c.get(f"/v1/students/{sid}/attendance", headers=dad).status_code == 404
        r = c.get(f"/v1/students/{sid}/access-log", headers=mum)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    log = r.json()["data"]
    who = [(e["accessed_by"]["kind"], e["accessed_by"]["id"], e["category"]) for e in log]
    assert ("you", None, "profile") in who
    assert ("guardian", None, "attendance") in who  # the father, unnamed
    assert ("operator", "cli:alice", "export") in who
    body = r.text
    for secret in (dad_id, "cli:bob", "cli:carol", "breach", "denied", "hold", "child-protection"):
        assert secret not in body
    assert all(e["action"] in ("read", "export") for e in log)


def test_the_access_log_pages_newest_first(world: World) -> None:
    sid = kid_ref(world)
    with world.api() as c:
        mum = login(c, world.users["mum"])
        for _ in range(5):
            c.get(f"/v1/students/{sid}", headers=mum)
        seen, cursor = [], None
        while True:
            r = c.get(
                f"/v1/students/{sid}/access-log",
                headers=mum,
                params={"limit": 2, **({"cursor": cursor} if cursor else {})},
            )
            seen += r.json()["data"]
            cursor = r.json()["meta"]["next_cursor"]
            if not cursor:
                break
    stamps = [e["at"] for e in seen]
    assert len(seen) >= 6 and stamps == sorted(stamps, reverse=True)


def cache_rows(w: World, sid: str) -> list[dict]:
    """Every current record row about the student, straight from the cache."""
    with w.cache.engine.connect() as conn:
        p = conn.execute(text("SELECT published_run FROM source_state WHERE source='sis'")).scalar()
        rows = (
            conn.execute(
                text(
                    f"SELECT kind, ref, contact_ref, stamp, day FROM record r WHERE student_ref = :s AND {CURRENT.format(t='r')}"
                ),
                {"s": sid, "p": p},
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]


def inside_lag(w: World, row: dict, now: dt.datetime) -> bool:
    rule = getattr(w.config.visibility, RULE_OF_KIND.get(row["kind"], "reports"))
    stamp = row["stamp"]
    if isinstance(stamp, str):
        stamp = dt.datetime.fromisoformat(stamp)
    if stamp is not None and stamp.replace(tzinfo=dt.UTC) > now - rule.lag:
        return True
    local = now.astimezone(ZoneInfo(w.config.district.timezone))
    return (
        rule.same_day_not_before is not None
        and local.time() < rule.same_day_not_before
        and str(row["day"]) == local.date().isoformat()
    )


def test_the_export_is_complete_against_the_cache_and_holds_nothing_the_guardian_may_not_see(
    world: World,
) -> None:
    sid = kid_ref(world)
    student_id, mum_id, dad_id = world.district.cases.split_household
    mum_ref, dad_ref = world.ref("contact", mum_id), world.ref("contact", dad_id)
    with world.api() as c:
        h = login(c, world.users["mum"])
        r = c.get(f"/v1/students/{sid}/export", headers=h)
        z = c.get(f"/v1/students/{sid}/export", headers=h, params={"format": "csv"})
    now = dt.datetime.now(dt.UTC)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    doc = r.json()["data"]
    got = {(k, x["id"]) for k, items in doc["records"].items() for x in items}
    # Complete: every row about the student is there, except the father's link and rows inside the lag.
    for row in cache_rows(world, sid):
        key = (row["kind"], row["ref"])
        fathers_link = row["kind"] == "link" and row["contact_ref"] != mum_ref
        if fathers_link or inside_lag(world, row, now):
            assert key not in got
        else:
            assert key in got, key
    # ... and the rows they reference: sections, assignments, the school, the caller's own contact record.
    recs = doc["records"]
    sections = {x["id"] for x in recs["section"]}
    assert {world.ref("section", e["section_id"]) for e in recs["enrollment"]} <= sections
    assignments = {x["id"] for x in recs["assignment"]}
    assert {world.ref("assignment", x["assignment_id"]) for x in recs["result"]} <= assignments
    assert [x["id"] for x in recs["school"]] == [world.ref("school", recs["student"][0]["school_id"])]
    assert [x["id"] for x in recs["contact"]] == [mum_ref] and [x["contact_id"] for x in recs["link"]] == [
        mum_id
    ]
    # Nothing else: not the father's details, not another student.
    dad = world.district.get("contact", dad_id)
    assert dad is not None
    for secret in (dad.email, dad.phone, dad_ref, dad_id):
        assert secret and secret not in r.text
    others = [s for s in world.district.iter("student") if s.source_id != student_id]
    for s in others:
        assert world.ref("student", s.source_id) not in r.text
        assert f'{s.legal_first_name}","legal_last_name":"{s.legal_last_name}' not in r.text
    assert all(x.get("student_id") in (None, student_id) for items in recs.values() for x in items)
    # The zip holds the same records, one CSV per kind.
    assert z.status_code == 200 and z.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(z.content)) as zf:
        for kind, items in recs.items():
            assert len(zf.read(f"{kind}.csv").decode().strip().splitlines()) == len(items) + 1


def test_a_student_export_has_no_contacts_and_a_strangers_export_is_the_uniform_404(world: World) -> None:
    sid = kid_ref(world)
    other = world.ref("student", world.district.cases.student_login)
    with world.api() as c:
        kid = login(c, world.users["kid"])
        doc = c.get(f"/v1/students/{sid}/export", headers=kid).json()["data"]
        assert "contact" not in doc["records"] and "link" not in doc["records"]
        mum = login(c, world.users["mum"])
        denied = c.get(f"/v1/students/{other}/export", headers=mum)
        missing = c.get("/v1/students/AAAAAAAAAAAAAAAAAAAAAA/export", headers=mum)
    assert denied.status_code == missing.status_code == 404 and denied.content == missing.content
    with world.cache.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT count(*) FROM audit_event WHERE action = 'export' AND student_ref = :s"),
            {"s": other},
        ).scalar()
        denied = conn.execute(text("SELECT sum(count) FROM audit_denied")).scalar()
    # Nothing was disclosed: no audit event names the stranger; both denials are counted.
    assert rows == 0 and denied == 2


def record_fingerprint(w: World) -> str:
    with w.cache.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, digest, valid_from, valid_to FROM record ORDER BY id")).all()
        runs = conn.execute(text("SELECT count(*) FROM sync_run")).scalar()
    return hashlib.sha256(repr((rows, runs)).encode()).hexdigest()


def test_a_correction_request_is_stored_mailed_to_the_data_contact_resolved_and_never_sent_to_the_sis(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = kid_ref(world)
    before = record_fingerprint(world)
    with world.api() as c:
        mum, dad = login(c, world.users["mum"]), login(c, world.users["dad"])
        r = c.post(
            f"/v1/students/{sid}/corrections",
            headers=mum,
            json={"about": "attendance 3 Nov", "message": "She was present."},
        )
        assert r.status_code == 201 and r.json()["data"]["status"] == "open"
        cid = r.json()["data"]["id"]
        assert (
            c.post(
                f"/v1/students/{sid}/corrections", headers=mum, json={"about": "", "message": "x"}
            ).status_code
            == 400
        )
        assert (
            c.get(f"/v1/students/{sid}/corrections", headers=dad).json()["data"] == []
        )  # the caller's own only
        mails = list((world.tmp / "outbox").glob("*.eml"))
        assert len(mails) == 1
        msg = email.message_from_bytes(mails[0].read_bytes())
        assert msg["To"] == "records@district.example.org" and cid in msg["Subject"]
        assert "She was present." in msg.get_payload(decode=True).decode()

        monkeypatch.setattr("connectors.registry.validate_connectors", lambda loaded: [])
        cfg = world.config_yaml()
        listed = CliRunner().invoke(main, ["--config", str(cfg), "corrections", "list"])
        assert listed.exit_code == 0 and cid in listed.output and "emailed" in listed.output
        assert "She was present" not in listed.output  # text only with --show-text
        done = CliRunner().invoke(
            main, ["--config", str(cfg), "corrections", "resolve", cid, "--note", "Corrected in the SIS."]
        )
        assert done.exit_code == 0, done.output
        mine = c.get(f"/v1/students/{sid}/corrections", headers=mum).json()["data"]
    assert [(x["id"], x["status"], x["note"]) for x in mine] == [(cid, "resolved", "Corrected in the SIS.")]
    assert record_fingerprint(world) == before  # no record changed, no sync ran: nothing went to the SIS
    with world.cache.engine.connect() as conn:
        stored = conn.execute(text("SELECT body_enc FROM correction_request")).scalar()
    assert b"present" not in stored and orjson.dumps("She was present.") not in stored


def test_an_operator_export_holds_every_contact_and_is_audited(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    kid, mum, dad = world.district.cases.split_household
    monkeypatch.setattr("connectors.registry.validate_connectors", lambda loaded: [])
    out = world.tmp / "sar.json"
    r = CliRunner().invoke(
        main,
        [
            "--config",
            str(world.config_yaml()),
            "export",
            "--student",
            kid,
            "--source",
            "sis",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    doc = orjson.loads(out.read_bytes())
    assert {x["source_id"] for x in doc["records"]["contact"]} == {mum, dad}
    assert {x["contact_id"] for x in doc["records"]["link"]} == {mum, dad}
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    with world.cache.engine.connect() as conn:
        row = conn.execute(
            text("SELECT actor_kind, action FROM audit_event WHERE student_ref = :s"), {"s": kid_ref(world)}
        ).all()
    assert [tuple(x) for x in row] == [("operator", "export")]


def test_a_request_whose_mail_failed_is_kept_and_sent_by_corrections_notify(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.net import free_port

    dead = {"backend": "smtp", "smtp_host": "127.0.0.1", "smtp_port": free_port()}
    w = privacy_world(tmp_path, sqlite_url, students=14, mail=dead)
    try:
        sid = kid_ref(w)
        with w.api() as c:
            h = login(c, w.users["mum"])
            r = c.post(
                f"/v1/students/{sid}/corrections", headers=h, json={"about": "name", "message": "Spelling."}
            )
        assert r.status_code == 201  # stored even though the relay is down
        monkeypatch.setattr("connectors.registry.validate_connectors", lambda loaded: [])
        cfg = w.config_yaml()
        listed = CliRunner().invoke(main, ["--config", str(cfg), "corrections", "list"])
        assert "NOT EMAILED" in listed.output
        import yaml

        raw = yaml.safe_load(cfg.read_text())
        raw["mail"] = {"backend": "outbox", "outbox_dir": str(tmp_path / "outbox")}
        cfg.write_text(yaml.safe_dump(raw))
        sent = CliRunner().invoke(main, ["--config", str(cfg), "corrections", "notify"])
        assert sent.exit_code == 0 and "sent 1, not sent 0" in sent.output
        assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
        again = CliRunner().invoke(main, ["--config", str(cfg), "corrections", "list", "--show-text"])
        assert "emailed" in again.output and "Spelling." in again.output
        with w.cache.engine.connect() as conn:
            reads = conn.execute(
                text(
                    "SELECT count(*) FROM audit_event WHERE actor_kind = 'operator' AND category = 'corrections'"
                )
            ).scalar()
        assert reads == 2  # the re-send and the list that showed the text
    finally:
        w.cache.dispose()
