"""What a sync holds per record and per person stays small (peak RSS flat in district size,
docs/PERFORMANCE-scale.md): payloads of their own size, no cipher object kept per owner."""

from __future__ import annotations

import datetime as dt
import tracemalloc
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import text

from cache.snapshots.encode import aad
from cache.store import open_cache
from connectors.records import AttendanceCategory, AttendanceMark, Record
from gateway.sync.engine import SyncEngine
from tests.support.config import make_config
from tests.support.connectors import ListConnector
from tests.support.records import family, student


def test_an_encoded_payload_holds_its_own_size_not_orjsons_buffer(tmp_path: Path) -> None:
    config, secrets = make_config(tmp_path, f"sqlite:///{tmp_path / 'cache.db'}")
    cache = open_cache(config, secrets)
    encoder = SyncEngine(cache.engine, cache.keyring, config, config.connectors[0]).encoder()
    records = [student(i) for i in range(1_000)]
    size = sum(len(orjson.dumps(r)) for r in records) / len(records)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        held = [encoder.encode(r) for r in records]
        per_record = (tracemalloc.get_traced_memory()[0] - before) / len(held)
    finally:
        tracemalloc.stop()
    assert [e.payload for e in held] == [orjson.dumps(r) for r in records]
    # orjson (3.12+) returns its output in a buffer of at least 4 KB: a page of held
    # payloads would cost 4 KB a record whatever its size. A copy of the exact size, the
    # refs and the columns come to well under 2 KB (the payload itself is a few hundred bytes).
    assert per_record < 2_000, (per_record, size)
    cache.dispose()


def _marks(students: int, days: int) -> list[Record]:
    """Attendance of ``students`` students day by day: each page names many owners, interleaved."""
    out: list[Record] = []
    for d in range(days):
        day = dt.date(2026, 9, 1) + dt.timedelta(days=d)
        for i in range(students):
            out.append(
                AttendanceMark(
                    source_id=f"{i:05d}-{day.isoformat()}",
                    student_id=f"{i:05d}",
                    date=day,
                    session="day",
                    source_code="P",
                    category=AttendanceCategory.PRESENT,
                    minutes_late=None,
                    recorded_at=dt.datetime(2026, 9, 1, 8, tzinfo=dt.UTC) + dt.timedelta(days=d),
                )
            )
    return out


def test_staging_seals_each_owners_records_without_keeping_a_cipher_per_owner(tmp_path: Path) -> None:
    config, secrets = make_config(tmp_path, f"sqlite:///{tmp_path / 'cache.db'}")
    cache = open_cache(config, secrets)
    streams: dict[str, list[Record]] = {**family(120), "attendance": _marks(120, 3)}
    out = SyncEngine(cache.engine, cache.keyring, config, config.connectors[0]).run(
        ListConnector("sis", streams, page_size=200)
    )
    assert out.status == "published", out
    # The sync kept no cipher object: 241 owners would otherwise be 241 x ~2.5 KB.
    assert len(cache.keyring._sealers) == 0
    with cache.engine.connect() as conn:
        got = conn.execute(text("SELECT kind, ref, key_id, payload FROM record ORDER BY id")).all()
    assert len(got) == 120 * 3 + 360
    owners: dict[str, Any] = {}
    for kind, ref, key_id, payload in got:
        # Sealed in owner order, written in page order: each row opens under its own key and row.
        plain = cache.keyring.sealer(key_id).open(bytes(payload), aad("sis", kind, ref, key_id))
        owners.setdefault(key_id, set()).add(orjson.loads(plain)["source_id"])
    assert len(owners) == 120 + 120  # a key per student (their records) and per contact
    cache.dispose()


def test_the_keyring_keeps_a_bounded_number_of_owners_keys_and_reads_the_rest_again(
    tmp_path: Path, monkeypatch: Any
) -> None:
    from cache.keys import keystore

    monkeypatch.setattr(keystore, "OWNER_KEYS", 50)
    config, secrets = make_config(tmp_path, f"sqlite:///{tmp_path / 'cache.db'}")
    cache = open_cache(config, secrets)
    keyring = cache.keyring
    streams: dict[str, list[Record]] = {**family(120), "attendance": _marks(120, 3)}
    out = SyncEngine(cache.engine, keyring, config, config.connectors[0]).run(
        ListConnector("sis", streams, page_size=40)
    )
    assert out.status == "published", out
    # 240 owners (120 students, 120 contacts) went through a keyring that
    # keeps 50 of them: their ids and unwrapped keys are bounded, not one per person.
    assert len(keyring._owner_key) <= 50 and len(keyring._raw) <= 50
    with cache.engine.connect() as conn:
        got = conn.execute(text("SELECT kind, ref, key_id, payload FROM record ORDER BY id")).all()
    assert len(got) == 120 * 3 + 360
    assert len({key_id for _, _, key_id, _ in got}) == 240
    for kind, ref, key_id, payload in got:  # every key read again from the keystore opens its rows
        keyring.sealer(key_id).open(bytes(payload), aad("sis", kind, ref, key_id))
    assert len(keyring._raw) <= 50
    # A batch of more owners than are kept still gets a key for each, created once.
    owners = [f"student:batch-{i}" for i in range(130)]
    keyring.ensure(owners)
    first = {o: keyring.key_for(o) for o in owners}
    keyring.ensure(owners)
    assert {o: keyring.key_for(o) for o in owners} == first == keyring.key_ids_of(owners)
    assert len(set(first.values())) == 130 and len(keyring._owner_key) <= 50
    cache.dispose()


def test_the_encoders_ref_memo_holds_only_referenced_kinds_and_at_most_memo_refs(
    tmp_path: Path, monkeypatch: Any
) -> None:
    from cache.snapshots import encode

    monkeypatch.setattr(encode, "MEMO_REFS", 100)
    config, secrets = make_config(tmp_path, f"sqlite:///{tmp_path / 'cache.db'}")
    cache = open_cache(config, secrets)
    encoder = SyncEngine(cache.engine, cache.keyring, config, config.connectors[0]).encoder()
    streams = family(150)
    people = [*streams["students"], *streams["contacts"]]
    first = [encoder.encode(rec) for rec in people]
    # Contacts and links are named once each (a link names its contact): their refs are
    # not memoised; of the students' refs, at most MEMO_REFS are kept.
    assert set(encoder._refs) == {"student", "section", "assignment", "school"}
    assert 0 < sum(len(m) for m in encoder._refs.values()) <= 100
    marks = [encoder.encode(rec) for rec in _marks(150, 2)]
    assert sum(len(m) for m in encoder._refs.values()) <= 100
    # Memoised or not, a ref is the blind index of its kind and id.
    index = cache.keyring.index
    assert [e.ref for e in first] == [index.ref("sis", rec.kind, rec.source_id) for rec in people]
    assert [e.cols["student_ref"] for e in marks] == [
        index.ref("sis", "student", f"{i:05d}") for _ in range(2) for i in range(150)
    ]
    cache.dispose()


def _staging_peak(tmp_path: Path, days: int) -> tuple[int, int]:
    """Traced peak while staging one page of ``days`` days of 100 students' marks (their
    owners' keys made beforehand), and the rows written."""
    from cache.snapshots.runs import create_run
    from cache.snapshots.staging import Staging

    tmp_path.mkdir()
    config, secrets = make_config(tmp_path, f"sqlite:///{tmp_path / 'cache.db'}")
    cache = open_cache(config, secrets)
    with cache.engine.begin() as conn:
        run_id = create_run(conn, "sis", True)
    staging = Staging(
        cache.engine, cache.keyring, SyncEngine(cache.engine, cache.keyring, config, config.connectors[0]).encoder(),
        run_id, None,
    )  # fmt: skip
    marks = _marks(100, days + 1)
    staging.write(marks[:100])  # the first day: keys made, code paths warm
    page = marks[100:]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        staging.write(page)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    staging.conn.commit()
    with cache.engine.connect() as conn:
        rows = int(
            conn.execute(text("SELECT count(*) FROM record WHERE valid_from=:r"), {"r": run_id}).scalar() or 0
        )
    staging.close()
    cache.dispose()
    return peak, rows


def test_staging_a_large_page_holds_one_write_batch_not_the_page(tmp_path: Path) -> None:
    from cache.snapshots.staging import WRITE_BATCH

    small, small_rows = _staging_peak(tmp_path / "small", WRITE_BATCH // 100)
    large, large_rows = _staging_peak(tmp_path / "large", 4 * WRITE_BATCH // 100)
    assert (small_rows, large_rows) == (WRITE_BATCH + 100, 4 * WRITE_BATCH + 100)  # every mark staged
    # A page four times the batch is staged a batch at a time: its encoded and sealed rows and
    # the driver's parameters never exist for the whole page at once (before: 4.0x the small peak).
    assert large < 1.5 * small, (small, large)


def test_the_keyring_holds_a_kept_owners_key_in_under_300_bytes(
    tmp_path: Path,
) -> None:
    config, secrets = make_config(tmp_path, f"sqlite:///{tmp_path / 'cache.db'}")
    cache = open_cache(config, secrets)
    keyring = cache.keyring
    keyring.ensure([f"student:warm-{i}" for i in range(600)])  # statement caches, first tables
    owners = [f"student:kept-{i:06d}" for i in range(3_000)]
    keyring.ensure(owners)  # the keys exist in the keystore: what follows only reads them
    keyring.forget()
    keyring.ensure([f"student:warm-{i}" for i in range(600)])
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        keyring.ensure(owners)
        per_owner = (tracemalloc.get_traced_memory()[0] - before) / len(owners)
    finally:
        tracemalloc.stop()
    assert {o: keyring.key_for(o) for o in owners} == keyring.key_ids_of(owners)
    # Kept per owner: its name (88 B), its key id (72 B), its unwrapped key (72 B) and an
    # entry in each of the two maps (about 42 B together as plain dicts): 282 B measured.
    # Two OrderedDicts came to about 90 B more: their linked list is paid on every entry.
    assert per_owner < 300, per_owner
    cache.dispose()


def test_the_keyring_drops_the_least_recently_used_owner_first(tmp_path: Path, monkeypatch: Any) -> None:
    from cache.keys import keystore

    monkeypatch.setattr(keystore, "OWNER_KEYS", 32)
    config, secrets = make_config(tmp_path, f"sqlite:///{tmp_path / 'cache.db'}")
    cache = open_cache(config, secrets)
    keyring = cache.keyring
    keyring.ensure(["student:often"])
    for i in range(200):
        keyring.ensure([f"student:once-{i}"])
        keyring.ensure(["student:often"])  # used again between every newcomer
        assert len(keyring._owner_key) <= 32 and len(keyring._raw) <= 32
    assert "student:often" in keyring._owner_key
    assert "student:once-0" not in keyring._owner_key and "student:once-199" in keyring._owner_key
    assert keyring._owner_key["student:often"] in keyring._raw
    cache.dispose()
