"""The audit log records what was disclosed, not what was typed: denied reads are counted per
caller and hour; retention prunes old events, keeps records of disclosure while the
student's records are held, and leaves a chain that still verifies (and catches forgery)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import text

from cache.types import utcnow
from config.settings import PrivacySettings
from gateway.cli import main
from gateway.privacy import audit, breach
from gateway.privacy.audit_anchor import verify_anchored
from gateway.privacy.purge import purge_students
from tests.support.world import World, login, privacy_world

LATER = dt.timedelta(days=4 * 365)


def prune(*args: object, **kwargs: object) -> object:
    from gateway.privacy.audit_retention import prune as run

    return run(*args, **kwargs)  # type: ignore[arg-type]  # past the default retention of three years


@pytest.fixture
def world(tmp_path: Path, db_url: str):
    w = privacy_world(tmp_path, db_url, students=14)
    yield w
    w.cache.dispose()


def count(w: World, sql: str) -> int:
    with w.cache.engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar() or 0)


def test_denied_reads_are_counted_per_caller_and_hour_and_never_stored_as_typed(world: World) -> None:
    sid = world.ref("student", world.district.cases.split_household[0])
    stranger = world.ref("student", world.district.cases.student_login)
    with world.api() as c:
        mum = login(c, world.users["mum"])
        before = count(world, "SELECT count(*) FROM audit_event")
        probes = [f"probe-{i:05d}-{'x' * 10}" for i in range(300)] + [stranger] * 20
        for probe in probes:
            assert c.get(f"/v1/students/{probe}/attendance", headers=mum).status_code == 404
        assert count(world, "SELECT count(*) FROM audit_event") == before  # no row per probe
        assert c.get(f"/v1/students/{sid}/attendance", headers=mum).status_code == 200
    assert count(world, "SELECT count(*) FROM audit_event") == before + 1  # the disclosure is chained
    assert count(world, "SELECT count(*) FROM audit_denied") == 1
    assert count(world, "SELECT sum(count) FROM audit_denied") == len(probes)
    # What a caller typed is nowhere in the cache (on SQLite: the file and its WAL, raw).
    if world.cache.engine.dialect.name == "sqlite":
        raw = b"".join(p.read_bytes() for p in world.tmp.glob("cache.db*"))
        assert raw and b"probe-00042" not in raw
    with world.cache.engine.connect() as conn:
        assert audit.verify(conn).ok


def test_portico_audit_denied_names_the_caller_who_probed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("connectors.registry.validate_connectors", lambda loaded: [])
    with world.api() as c:
        dad = login(c, world.users["dad"])
        for i in range(7):
            c.get(f"/v1/students/nobody{i}", headers=dad)
        dad_id = c.get("/v1/me", headers=dad).json()["data"]["id"]
    out = CliRunner().invoke(main, ["--config", str(world.config_yaml()), "audit", "denied"])
    assert out.exit_code == 0, out.output
    assert dad_id in out.output and " 7 " in out.output


def reads(w: World) -> tuple[str, str]:
    """Reads of two children by their families; returns (kept child, purged child)."""
    kid = w.ref("student", w.district.cases.split_household[0])
    with w.api() as c:
        mum, me = login(c, w.users["mum"]), login(c, w.users["kid"])
        for path in ("", "/attendance", "/export"):
            assert c.get(f"/v1/students/{kid}{path}", headers=mum).status_code == 200
        c.get("/v1/students/nobody", headers=mum)
        assert c.get(f"/v1/students/{kid}/grades", headers=me).status_code == 200
    other = next(
        w.ref("student", s.source_id)
        for s in w.district.iter("student")
        if w.ref("student", s.source_id) != kid
    )
    with w.cache.engine.begin() as conn:
        audit.append(
            conn, [audit.Entry("operator", "cli:ann", "export", "allowed", "sis", other, action="export")]
        )
        audit.append(conn, [audit.Entry("guardian", "acc_x", "profile", "denied", "sis", "typed-by-someone")])
        # The access rule as the district set it (gateway/access/rule_record.py).
        audit.append(
            conn,
            [audit.Entry("system", "config", "access-rule", "0123456789abcdef", "sis", action="rule-set")],
        )
    return kid, other


def test_a_prune_keeps_disclosures_of_held_students_and_the_chain_still_verifies(world: World) -> None:
    kid, other = reads(world)
    purge_students(
        world.cache.engine,
        world.cache.keyring,
        "sis",
        [other],
        reason_code="deletion-request",
        operator="cli:t",
    )
    total = count(world, "SELECT count(*) FROM audit_event")
    kept_before = count(
        world,
        f"SELECT count(*) FROM audit_event WHERE (student_ref = '{kid}' AND outcome = 'allowed')"
        " OR category = 'access-rule'",
    )
    ks = world.cache.keyring.engine
    result = prune(world.cache.engine, ks, world.config.privacy, utcnow() + LATER)
    assert result.through_id == total and result.kept == kept_before and result.pruned == total - kept_before
    assert count(world, "SELECT count(*) FROM audit_event") == kept_before
    assert (
        count(world, f"SELECT count(*) FROM audit_event WHERE student_ref = '{other}'") == 0
    )  # purged: aged out
    assert count(world, "SELECT count(*) FROM audit_event WHERE outcome = 'denied'") == 0
    assert count(world, "SELECT count(*) FROM audit_denied") == 0  # the hourly counts aged out too
    with world.cache.engine.connect() as conn:
        checked = verify_anchored(conn, ks)
        assert checked.ok and checked.chain.checked == kept_before, checked
    # The family still sees who read their child's data, and a breach report still finds it.
    with world.api() as c:
        mum = login(c, world.users["mum"])
        log = c.get(f"/v1/students/{kid}/access-log", headers=mum).json()["data"]
        assert {"profile", "attendance", "export", "grades"} <= {e["category"] for e in log}
        c.get(f"/v1/students/{kid}/timetable", headers=mum)  # the chain goes on from the checkpoint
    window = breach.Window(utcnow() - dt.timedelta(hours=1), utcnow() + dt.timedelta(hours=1))
    rep = breach.report(world.cache.engine, world.cache.keyring, window, operator="cli:t")
    assert [s.ref for s in rep.students] == [kid]
    with world.cache.engine.connect() as conn:
        assert verify_anchored(conn, ks).ok
    again = prune(world.cache.engine, ks, world.config.privacy, utcnow() + LATER)  # a second cut
    assert again.through_id is not None and again.through_id > total
    with world.cache.engine.connect() as conn:
        assert verify_anchored(conn, ks).ok


def test_without_the_disclosure_rule_everything_past_retention_goes_but_the_access_rules(
    world: World,
) -> None:
    reads(world)
    privacy = PrivacySettings(audit_retention=dt.timedelta(days=30), keep_disclosures_while_record_held=False)
    ks = world.cache.keyring.engine
    young = prune(world.cache.engine, ks, privacy, utcnow())
    assert young.through_id is None and young.pruned == 0  # nothing is 30 days old yet
    result = prune(world.cache.engine, ks, privacy, utcnow() + dt.timedelta(days=31))
    assert result.kept == 1 and count(world, "SELECT count(*) FROM audit_event") == 1
    assert count(world, "SELECT count(*) FROM audit_event WHERE category = 'access-rule'") == 1
    with world.cache.engine.connect() as conn:
        assert verify_anchored(conn, ks).ok


def test_tampering_with_what_a_prune_kept_or_with_its_checkpoint_is_found(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("connectors.registry.validate_connectors", lambda loaded: [])
    kid, _ = reads(world)
    ks = world.cache.keyring.engine
    prune(world.cache.engine, ks, world.config.privacy, utcnow() + LATER)
    cfg = str(world.config_yaml())
    assert CliRunner().invoke(main, ["--config", cfg, "audit", "verify"]).exit_code == 0
    first_kept = count(world, "SELECT min(id) FROM audit_event")
    with world.cache.engine.begin() as conn:  # remove a record of disclosure
        conn.execute(text(f"DELETE FROM audit_event WHERE id = {first_kept}"))
    bad = CliRunner().invoke(main, ["--config", cfg, "audit", "verify"])
    assert bad.exit_code == 1 and "kept" in bad.output
    with world.cache.engine.begin() as conn:  # and forge the checkpoint to match
        digest = audit.KeptDigest()
        for row in conn.execute(
            text(
                "SELECT id, hash FROM audit_event WHERE id <= (SELECT max(through_id) FROM audit_checkpoint) ORDER BY id"
            )
        ):
            digest.add(row.id, row.hash)
        conn.execute(
            text(
                f"UPDATE audit_checkpoint SET kept_count = {digest.count}, kept_digest = '{digest.hexdigest()}'"
            )
        )
    with world.cache.engine.connect() as conn:
        assert audit.verify(conn).ok  # the cache alone now looks consistent
    forged = CliRunner().invoke(main, ["--config", cfg, "audit", "verify"])
    assert forged.exit_code == 1 and "FORGED" in forged.output
    from gateway.privacy.audit_retention import AuditBroken

    with pytest.raises(AuditBroken):
        prune(world.cache.engine, ks, world.config.privacy, utcnow() + LATER)


def test_portico_audit_prune_reports_what_it_did(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("connectors.registry.validate_connectors", lambda loaded: [])
    reads(world)
    cfg = str(world.config_yaml())
    dry = CliRunner().invoke(main, ["--config", cfg, "audit", "prune", "--dry-run"])
    assert dry.exit_code == 0 and "nothing to prune" in dry.output  # everything is younger than 3 years
    before = count(world, "SELECT count(*) FROM audit_event")
    short = world.config_yaml()
    raw = yaml.safe_load(short.read_text())
    raw["privacy"]["audit_retention"] = "PT0S"
    short.write_text(yaml.safe_dump(raw))
    out = CliRunner().invoke(main, ["--config", str(short), "audit", "prune"])
    assert out.exit_code == 0, out.output
    assert "removed" in out.output and "kept" in out.output
    assert count(world, "SELECT count(*) FROM audit_event") < before
    assert CliRunner().invoke(main, ["--config", str(short), "audit", "verify"]).exit_code == 0
