"""The audit chain detects every tampering: a row changed, removed, reordered or inserted, or the tail cut."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Connection, text

from cache.db import make_engine
from gateway.cli import main
from gateway.privacy import audit
from gateway.privacy.audit import EVENTS, HEAD, chain_hash
from gateway.privacy.audit_anchor import verify_anchored
from tests.support.config import migrated_engine
from tests.support.world import privacy_world

FIELDS = (
    "at",
    "actor_kind",
    "actor_id",
    "source",
    "student_ref",
    "category",
    "action",
    "outcome",
    "request_id",
)


def fill(conn: Connection, n: int, rng: random.Random) -> None:
    for _ in range(n // 10):
        audit.append(
            conn,
            [
                audit.Entry(
                    actor_kind=rng.choice(["guardian", "student", "operator"]),
                    actor_id=f"acc_{rng.randrange(50)}",
                    category=rng.choice(["attendance", "grades", "profile", "export"]),
                    outcome=rng.choice(["allowed", "allowed", "denied"]),
                    source="sis",
                    student_ref=f"ref{rng.randrange(30):03d}",
                    request_id=f"req{rng.randrange(10**6)}",
                )
                for _ in range(10)
            ],
        )


def tamper(conn: Connection, rng: random.Random, n: int) -> str:
    """Apply one random tampering an attacker with write access to the table could make."""
    how = rng.choice(["change", "delete", "swap", "insert", "truncate", "forge-row", "shift-time"])
    i = rng.randrange(1, n + 1)
    if how == "change":
        field = rng.choice(FIELDS[1:])
        conn.execute(
            text(f"UPDATE audit_event SET {field} = 'x' || coalesce({field}, '') WHERE id = :i"), {"i": i}
        )
    elif how == "shift-time":
        conn.execute(
            EVENTS.update().where(EVENTS.c.id == i).values(at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        )
    elif how == "delete":
        conn.execute(text("DELETE FROM audit_event WHERE id = :i"), {"i": i})
        if rng.random() < 0.5:  # and renumber the rows after it, hiding the gap
            conn.execute(text("UPDATE audit_event SET id = id - 1 WHERE id > :i"), {"i": i})
    elif how == "swap":
        j = i % n + 1
        conn.execute(text("UPDATE audit_event SET id = -1 WHERE id = :i"), {"i": i})
        conn.execute(text("UPDATE audit_event SET id = :i WHERE id = :j"), {"i": i, "j": j})
        conn.execute(text("UPDATE audit_event SET id = :j WHERE id = -1"), {"j": j})
    elif how == "insert":
        conn.execute(text("UPDATE audit_event SET id = id + 1000000 WHERE id >= :i"), {"i": i})
        conn.execute(text("UPDATE audit_event SET id = id - 1000000 + 1 WHERE id >= 1000000"))
        prev = (
            conn.execute(text("SELECT hash FROM audit_event WHERE id = :p"), {"p": i - 1}).scalar()
            or "0" * 64
        )
        values = {
            "at": dt.datetime.now(dt.UTC),
            "actor_kind": "operator",
            "actor_id": "mallory",
            "category": "x",
            "outcome": "allowed",
            "action": "read",
        }
        conn.execute(EVENTS.insert().values(id=i, prev_hash=prev, hash=chain_hash(prev, i, values), **values))
    elif how == "truncate":
        conn.execute(text("DELETE FROM audit_event WHERE id >= :i"), {"i": i})
    else:  # forge-row: change a row and recompute its own hash (the next row still names the old one)
        i = rng.randrange(1, n)
        row = dict(conn.execute(EVENTS.select().where(EVENTS.c.id == i)).mappings().one())
        row["actor_id"] = "someone-else"
        conn.execute(
            EVENTS.update()
            .where(EVENTS.c.id == i)
            .values(actor_id="someone-else", hash=chain_hash(row["prev_hash"], i, row))
        )
    return how


def test_every_random_tampering_of_the_audit_chain_is_detected(tmp_path: Path) -> None:
    engine = migrated_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    rng = random.Random(20261124)
    n = 120
    with engine.begin() as conn:
        fill(conn, n, rng)
    with engine.connect() as conn:
        assert audit.verify(conn).ok and audit.verify(conn).checked == n
    seen: set[str] = set()
    for _ in range(300):
        conn = engine.connect()
        trans = conn.begin()
        how = tamper(conn, rng, n)
        seen.add(how)
        result = audit.verify(conn, batch=rng.choice([7, 50, 5000]))
        assert not result.ok, how
        trans.rollback()
        conn.close()
    assert seen == {"change", "delete", "swap", "insert", "truncate", "forge-row", "shift-time"}
    with engine.connect() as conn:
        assert audit.verify(conn).ok  # every tampering above was rolled back


def test_removing_the_chain_head_or_every_event_is_detected(tmp_path: Path) -> None:
    engine = migrated_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    with engine.begin() as conn:
        fill(conn, 20, random.Random(1))
    with engine.connect() as conn:
        conn.execute(HEAD.delete())
        assert not audit.verify(conn).ok
        conn.rollback()
        conn.execute(EVENTS.delete())
        assert not audit.verify(conn).ok


@pytest.fixture
def world(tmp_path: Path, sqlite_url: str):
    w = privacy_world(tmp_path, sqlite_url, students=14)
    yield w
    w.cache.dispose()


def test_portico_audit_verify_reports_intact_and_broken_chains(world, monkeypatch) -> None:
    monkeypatch.setattr("connectors.registry.validate_connectors", lambda loaded: [])
    cfg = world.config_yaml()
    with world.cache.engine.begin() as conn:
        fill(conn, 30, random.Random(2))
    ok = CliRunner().invoke(main, ["--config", str(cfg), "audit", "verify"])
    assert ok.exit_code == 0 and "intact: 30 events" in ok.output and "anchored at event 30" in ok.output
    with world.cache.engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET category = 'tampered' WHERE id = 17"))
    bad = CliRunner().invoke(main, ["--config", str(cfg), "audit", "verify"])
    assert bad.exit_code == 1 and "event 17" in bad.output


def test_concurrent_writers_extend_one_unbroken_chain(tmp_path: Path) -> None:
    """Two processes' worth of writers (separate connections) never fork the chain or collide."""
    import threading

    engine = migrated_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    with engine.begin() as conn:
        fill(conn, 10, random.Random(3))
    errors: list[str] = []

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(60):
            try:
                with engine.connect() as conn:
                    conn.execute(
                        text("SELECT count(*) FROM audit_event")
                    ).scalar()  # a read first, as requests do
                    fill(conn, 10, rng)
                    conn.commit()
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(type(exc).__name__)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with engine.connect() as conn:
        result = audit.verify(conn)
    assert errors == [] and result.ok and result.checked == 10 + 3 * 60 * 10


def test_a_tail_rewritten_with_recomputed_hashes_passes_the_chain_but_not_its_anchor(tmp_path: Path) -> None:
    engine = migrated_engine(f"sqlite:///{tmp_path / 'audit.db'}", f"sqlite:///{tmp_path / 'keys.db'}")
    keystore = make_engine(f"sqlite:///{tmp_path / 'keys.db'}")
    with engine.begin() as conn:
        fill(conn, 40, random.Random(4))
    with engine.connect() as conn:
        first = verify_anchored(conn, keystore)
    assert first.ok and first.new_anchor == 40
    with engine.begin() as conn:
        fill(conn, 20, random.Random(5))
        # The attacker rewrites event 30 onwards and recomputes every hash and the head.
        prev = conn.execute(text("SELECT hash FROM audit_event WHERE id = 29")).scalar()
        for row in (
            conn.execute(EVENTS.select().where(EVENTS.c.id >= 30).order_by(EVENTS.c.id)).mappings().all()
        ):
            values = dict(row) | {"actor_id": "nobody"}
            h = chain_hash(prev, row["id"], values)
            conn.execute(
                EVENTS.update()
                .where(EVENTS.c.id == row["id"])
                .values(actor_id="nobody", prev_hash=prev, hash=h)
            )
            prev = h
        conn.execute(HEAD.update().values(last_hash=prev))
    with engine.connect() as conn:
        assert audit.verify(conn).ok  # the chain alone cannot tell
        second = verify_anchored(conn, keystore)
    assert not second.ok and second.broken_anchor == 40
