"""Deletion: a purged student is unreadable even in old database copies, stays out per the rule, is certified."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text

from cache.db import make_engine
from cache.keys.keystore import Keyring, data_key
from cache.snapshots.encode import aad
from cache.store import load_keks
from cache.tables.accounts import Account
from cache.tables.alerts import AlertNews, AlertOutbox
from cache.tables.core import core_table
from cache.tables.privacy import PURGED
from cache.tables.records import RecordRow
from config.secrets import SecretResolver
from gateway.cli import main
from gateway.privacy.leavers import purge_leavers
from gateway.privacy.purge import PurgeError, purge_students
from tests.support.config import migrated_engine
from tests.support.world import World, privacy_world

RECORDS = RecordRow.__table__  # type: ignore[attr-defined]
NEWS = core_table(AlertNews)
OUTBOX = core_table(AlertOutbox)


def add_alerts(engine, student_refs: list[str]) -> None:
    """A piece of news not yet expanded and a queued alert about each student."""
    now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    with engine.begin() as conn:
        for i, ref in enumerate(student_refs):
            common = {"source": "sis", "student_ref": ref, "kind": "absence", "record_kind": "attendance"}
            conn.execute(
                NEWS.insert().values(
                    **common, record_ref=f"att{i}", record_run=1, visible_at=now, created_at=now
                )
            )
            conn.execute(
                OUTBOX.insert().values(
                    **common,
                    key=f"{i:064d}",
                    account_id=f"acc{i}",
                    record_ref=f"att{i}",
                    record_run=1,
                    mode="instant",
                    visible_at=now,
                    due_at=now,
                    created_at=now,
                )
            )


def alerts_about(engine, student_ref: str) -> tuple[int, int]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(select(func.count()).where(t.c.student_ref == student_ref)).scalar()
            for t in (NEWS, OUTBOX)
        )


@pytest.fixture
def world(tmp_path: Path, sqlite_url: str):
    w = privacy_world(tmp_path, sqlite_url)
    yield w
    w.cache.dispose()


def rows_of(engine, student_ref: str) -> list:
    with engine.connect() as conn:
        return conn.execute(
            select(RECORDS.c.kind, RECORDS.c.ref, RECORDS.c.key_id, RECORDS.c.payload).where(
                RECORDS.c.student_ref == student_ref
            )
        ).all()


def decryptable(keyring: Keyring, rows: list) -> int:
    n = 0
    for kind, ref, key_id, payload in rows:
        try:
            keyring.sealer(key_id).open(bytes(payload), aad("sis", kind, ref, key_id))
            n += 1
        except LookupError:
            pass
    return n


def test_a_purged_student_cannot_be_decrypted_from_a_database_copy_taken_before_while_others_can(
    world: World,
) -> None:
    kid, mum, dad = world.district.cases.split_household
    sid, other = world.ref("student", kid), world.ref("student", world.district.cases.student_login)
    copy = world.tmp / "before-purge.db"
    src = sqlite3.connect(world.tmp / "cache.db")
    with sqlite3.connect(copy) as dst:
        src.backup(dst)
    src.close()
    keys_db = world.tmp / "keys.db"
    with world.cache.keyring.engine.connect() as conn:
        wrapped = conn.execute(
            select(data_key.c.wrapped).where(data_key.c.owner == f"student:{sid}")
        ).scalar()
        key_id = conn.execute(select(data_key.c.key_id).where(data_key.c.owner == f"student:{sid}")).scalar()
    n_before = len(rows_of(world.cache.engine, sid))
    add_alerts(world.cache.engine, [sid, other])

    cert = purge_students(
        world.cache.engine,
        world.cache.keyring,
        "sis",
        [sid],
        reason_code="deletion-request",
        operator="cli:test",
    )

    # The old copy still holds the ciphertext, but with the live keystore only the others decrypt.
    old = make_engine(f"sqlite:///{copy}")
    fresh = Keyring(world.cache.keyring.engine, load_keks(world.config, SecretResolver(base_dir=world.tmp)))
    purged_rows, other_rows = rows_of(old, sid), rows_of(old, other)
    assert len(purged_rows) == n_before > 10 and other_rows
    assert decryptable(fresh, purged_rows) == 0
    assert decryptable(fresh, other_rows) == len(other_rows)
    old.dispose()
    # The destroyed key's bytes are overwritten in the keystore file, not just unlinked.
    on_disk = b"".join(p.read_bytes() for p in world.tmp.glob("keys.db*"))
    assert keys_db.exists() and wrapped not in on_disk
    # The live cache no longer holds the student, their account, or the parents linked only to them.
    assert rows_of(world.cache.engine, sid) == []
    with world.cache.engine.connect() as conn:
        theirs = [sid, world.ref("contact", mum), world.ref("contact", dad)]
        accounts = conn.execute(
            select(func.count()).where(core_table(Account).c.subject_ref.in_(theirs))
        ).scalar()
        contacts = conn.execute(
            select(func.count()).where(
                RECORDS.c.kind == "contact",
                RECORDS.c.ref.in_([world.ref("contact", mum), world.ref("contact", dad)]),
            )
        ).scalar()
    assert accounts == 0 and contacts == 0
    # No news or queued alert about the purged child is left; the other child's stay.
    assert alerts_about(world.cache.engine, sid) == (0, 0)
    assert alerts_about(world.cache.engine, other) == (1, 1)
    assert cert["rows_deleted"]["alert_news"] == cert["rows_deleted"]["alert_outbox"] == 1
    # The certificate names the destroyed key and the counts, and no personal data.
    student = world.district.get("student", kid)
    assert student is not None
    assert {"owner": f"student:{sid}", "key_id_destroyed": key_id} in cert["subjects"]
    assert (
        sum(
            v
            for k, v in cert["rows_deleted"].items()
            if k not in ("contact", "account", "session", "alert_news", "alert_outbox")
        )
        == n_before
    )
    text_ = json.dumps(cert)
    for pii in (student.legal_first_name, student.legal_last_name, str(student.date_of_birth), kid, mum, dad):
        assert pii not in text_


def test_a_purged_student_returns_only_if_unblocked_and_still_enrolled(world: World) -> None:
    blocked = world.ref("student", world.district.cases.split_household[0])
    returning = world.ref("student", world.district.cases.student_login)
    leaver = world.ref("student", world.district.cases.leaver)
    e, k = world.cache.engine, world.cache.keyring
    old_key = k.key_ids_of([f"student:{returning}"])[f"student:{returning}"]
    purge_students(e, k, "sis", [blocked], reason_code="deletion-request", operator="t")
    purge_students(
        e, k, "sis", [returning, leaver], reason_code="deletion-request", operator="t", blocked=False
    )
    world.sync()
    assert rows_of(e, blocked) == []  # blocked by the district: never again
    assert rows_of(e, leaver) == []  # the SIS no longer enrols them
    back = rows_of(e, returning)
    assert back and decryptable(k, back) == len(back)  # enrolled and unblocked: back, under a new key
    assert (
        {r.key_id for r in back}
        == {k.key_ids_of([f"student:{returning}"])[f"student:{returning}"]}
        != {old_key}
    )
    with e.connect() as conn:
        marks = {
            (r.subject, r.ref): r.returned_at
            for r in conn.execute(select(PURGED.c.subject, PURGED.c.ref, PURGED.c.returned_at))
        }
    assert marks[("student", returning)] is not None and marks[("student", blocked)] is None
    assert marks[("student", leaver)] is None
    world.sync()  # and the rule holds at every later sync
    assert rows_of(e, blocked) == [] and rows_of(e, returning)


def test_leavers_past_the_retention_are_purged_and_those_still_on_roll_are_not(world: World) -> None:
    leaver = world.ref("student", world.district.cases.leaver)
    future = world.ref("student", world.district.cases.future_leaver)
    today = dt.date(2026, 11, 24)
    assert (
        purge_leavers(world.cache.engine, world.cache.keyring, "sis", today, dt.timedelta(days=365)) is None
    )
    cert = purge_leavers(world.cache.engine, world.cache.keyring, "sis", today, dt.timedelta(days=14))
    assert cert is not None and cert["scope"] == "leavers" and cert["reason"] == "leaver-retention"
    assert rows_of(world.cache.engine, leaver) == [] and rows_of(world.cache.engine, future)


def test_a_sync_purges_leavers_past_the_configured_retention_by_itself(
    tmp_path: Path, sqlite_url: str
) -> None:
    w = privacy_world(tmp_path, sqlite_url, students=14, privacy={"leaver_retention": "P14D"})
    try:
        assert rows_of(w.cache.engine, w.ref("student", w.district.cases.leaver)) == []
        assert rows_of(w.cache.engine, w.ref("student", w.district.cases.future_leaver))
        with w.cache.engine.connect() as conn:
            scopes = conn.execute(text("SELECT scope, operator FROM deletion_certificate")).all()
        assert [tuple(s) for s in scopes] == [("leavers", "system")]
    finally:
        w.cache.dispose()


def test_a_reason_must_be_a_code_not_free_text(world: World) -> None:
    with pytest.raises(PurgeError):
        purge_students(
            world.cache.engine, world.cache.keyring, "sis", ["x"], reason_code="Mrs Smith asked", operator="t"
        )


def test_the_purge_command_takes_a_sis_id_writes_a_certificate_and_purge_all_empties_the_district(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("connectors.registry.validate_connectors", lambda loaded: [])
    cfg = str(world.config_yaml())
    kid = world.district.cases.split_household[0]
    r = CliRunner().invoke(
        main, ["--config", cfg, "purge", "--student", kid, "--source", "sis", "--reason", "deletion-request"]
    )
    assert r.exit_code == 0, r.output
    certs = list((world.tmp / "deletion-certificates").glob("del_*.json"))
    assert len(certs) == 1 and json.loads(certs[0].read_text())["students"] == 1
    assert rows_of(world.cache.engine, world.ref("student", kid)) == []

    r = CliRunner().invoke(main, ["--config", cfg, "purge", "--all", "--yes"])
    assert r.exit_code == 0, r.output
    with world.cache.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM record")).scalar() == 0
    with world.cache.keyring.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM data_key")).scalar() == 0
    out = world.sync()
    assert out.records > 0  # the SIS still sends everything ...
    with world.cache.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM record")).scalar() == 0  # ... and none of it is kept


def test_a_process_that_cached_a_destroyed_key_writes_under_the_new_one(world: World) -> None:
    owner = f"student:{world.ref('student', world.district.cases.student_login)}"
    api = Keyring(world.cache.keyring.engine, load_keks(world.config, SecretResolver(base_dir=world.tmp)))
    old = api.key_for(owner)  # cached in the "API process"
    world.cache.keyring.destroy_many([owner])  # a purge in the operator's process
    new = api.fresh_key_for(owner)
    assert new != old and api.sealer(new).open(api.sealer(new).seal(b"x", b"a"), b"a") == b"x"


def test_a_hold_survives_the_purge_so_a_returning_student_comes_back_still_held(world: World) -> None:
    from cache.tables.accounts import AccessHold
    from cache.types import utcnow

    sid = world.ref("student", world.district.cases.student_login)
    holds = AccessHold.__table__  # type: ignore[attr-defined]
    key_id = world.cache.keyring.key_for(f"student:{sid}")
    with world.cache.engine.begin() as conn:
        conn.execute(
            holds.insert().values(
                source="sis", subject="student", ref=sid, kind="child-protection", reason_enc=b"sealed",
                key_id=key_id, created_at=utcnow(), created_by="cli:dpo",
            )
        )  # fmt: skip
    purge_students(world.cache.engine, world.cache.keyring, "sis", [sid], reason_code="deletion-request",
                   operator="t", blocked=False)  # fmt: skip
    world.sync()
    assert rows_of(world.cache.engine, sid)  # back: still enrolled, not blocked ...
    with world.cache.engine.connect() as conn:
        held = conn.execute(
            select(holds.c.kind, holds.c.reason_enc, holds.c.released_at).where(holds.c.ref == sid)
        ).all()
    assert [tuple(h) for h in held] == [("child-protection", None, None)]  # ... and still held, reason erased


@pytest.mark.postgres
def test_destroying_keys_in_a_postgresql_keystore_rewrites_the_table_without_them(pg_url: str) -> None:
    from cache.keys.crypto import KekRing, new_kek_line

    engine = migrated_engine(pg_url)
    ring = Keyring(engine, KekRing.parse(new_kek_line("k1"), "test"))
    ring.ensure(["student:a", "student:b"])
    file_of = "SELECT pg_relation_filenode('data_key')"
    with engine.connect() as conn:
        before = conn.execute(text(file_of)).scalar()
    assert set(ring.destroy_many(["student:a"])) == {"student:a"}
    with engine.connect() as conn:
        after = conn.execute(text(file_of)).scalar()
        owners = conn.execute(text("SELECT owner FROM data_key ORDER BY owner")).scalars().all()
    # A new file holds the live rows only: the destroyed key's dead tuple went with the old one.
    assert owners == ["student:b", "system:index"] and after != before
    engine.dispose()
