"""Detection takes the run's change set from its staging; read back from the cache (an
operator's ``portico alerts detect``, an overflowing change set) it queues the same alerts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import sys
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select
from structlog.testing import capture_logs

from cache.keys.crypto import DecryptionError
from cache.snapshots.changes import StagedVersion
from cache.tables.alerts import AlertNews, AlertOutbox
from cache.tables.core import core_table
from connectors.records import (
    Assignment,
    AssignmentResult,
    AttendanceCategory,
    Audience,
    Grade,
    Polarity,
    ProgressReport,
    Record,
    ResultStatus,
)
from gateway.alerts import detect, prefs
from gateway.alerts.detect import change_set_sql
from tests.support.alerts import TODAY, family, incident, mark, notice, ny
from tests.support.records import link, school

OUTBOX = core_table(AlertOutbox)
NEWS = core_table(AlertNews)
YESTERDAY = TODAY - dt.timedelta(days=1)


def test_the_change_set_is_read_through_ix_record_change(tmp_path: Path, sqlite_url: str) -> None:
    fam = family(tmp_path, sqlite_url)
    with fam.app.cache.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + change_set_sql("sqlite"), {"s": "sis", "r": 2}
        ).all()
    assert len(plan) == 1 and "INDEX ix_record_change (source=? AND valid_from=?)" in plan[0][-1]
    fam.app.dispose()


def _queued(fam) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    fam.expand()
    with fam.app.cache.engine.connect() as conn:
        rows = conn.execute(select(OUTBOX.c.key, OUTBOX.c.account_id, OUTBOX.c.kind)).all()
    return sorted((k, a, kind) for k, a, kind in rows)


def _absence(category: AttendanceCategory, code: str = "X"):  # type: ignore[no-untyped-def]
    m = mark("00000", YESTERDAY, category, ny(15, day=YESTERDAY))
    return dataclasses.replace(m, source_code=code)


def test_the_hook_takes_the_staged_change_set_and_reads_nothing_back(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retired versions: a new absence is news, the same absence with another code is not,
    the absence corrected to unauthorised is (that kind only)."""
    fam = family(tmp_path, db_url)
    fam.clock.at = ny(8)

    def no_reading_back(*args: object) -> None:
        raise AssertionError("the hook read the run back from the cache")

    monkeypatch.setattr(detect, "change_set", no_reading_back)
    absences = [r for r in fam.records["attendance"] if r.date != YESTERDAY]
    fam.records["attendance"] = [*absences, _absence(AttendanceCategory.AUTHORISED_ABSENCE)]
    fam.sync()
    first = _queued(fam)
    assert sorted(k for _, _, k in first) == ["absence", "absence"]  # mum and dad
    fam.records["attendance"] = [*absences, _absence(AttendanceCategory.AUTHORISED_ABSENCE, "Y")]
    fam.sync()
    assert _queued(fam) == first  # a changed version with no new kind: nothing
    fam.records["attendance"] = [*absences, _absence(AttendanceCategory.UNAUTHORISED_ABSENCE, "Y")]
    fam.sync()
    now = _queued(fam)
    assert sorted(k for _, _, k in now) == [
        "absence",
        "absence",
        "unauthorised_absence",
        "unauthorised_absence",
    ]
    fam.app.dispose()


def _rows(fam) -> list[tuple[object, ...]]:  # type: ignore[no-untyped-def]
    o = OUTBOX.c
    fam.expand()
    with fam.app.cache.engine.connect() as conn:
        got = conn.execute(
            select(o.key, o.account_id, o.kind, o.mode, o.student_ref, o.record_ref, o.visible_at, o.due_at)
        ).all()
    return sorted(tuple(r) for r in got)


def test_read_back_from_the_cache_the_same_alerts_are_queued_and_an_overflow_reads_back(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fam = family(tmp_path, db_url)
    fam.clock.at = ny(8)
    out = fam.sync(
        attendance=[
            _absence(AttendanceCategory.UNAUTHORISED_ABSENCE),
            mark("00001", TODAY, AttendanceCategory.LATE, ny(7, 30)),
        ]
    )
    staged = _rows(fam)
    assert len(staged) == 3  # unauthorised to mum and dad, late to mum
    with fam.app.cache.engine.begin() as conn:
        conn.execute(OUTBOX.delete())
    found = detect.detect(fam.app.cache, fam.app.config, "sis", int(out.run_id or 0), fam.clock())
    assert found.read_again and _rows(fam) == staged

    # A change set past its bound is dropped while staging; the hook reads the run back.
    calls = []
    read_back = detect.change_set

    def spy(*args: object) -> object:
        calls.append(args[2:])
        return read_back(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(detect, "CHANGE_LIMIT", 0)
    monkeypatch.setattr(detect, "change_set", spy)
    out = fam.sync(attendance=[mark("00000", TODAY, AttendanceCategory.LATE, ny(7, 45))])
    assert calls == [("sis", out.run_id)]
    assert len(_rows(fam)) == 5  # late to mum and dad
    fam.app.dispose()


@pytest.mark.parametrize(
    ("zone", "opens"),
    [("America/New_York", ny(10, 30)), ("America/Los_Angeles", ny(13, 30)), ("Not/AZone", ny(10, 30))],
)
def test_a_same_day_mark_is_announced_from_its_schools_morning(
    tmp_path: Path, db_url: str, zone: str, opens: dt.datetime
) -> None:
    """The district's zone is New York. A school in it (or naming a bad zone) needs no
    student opened for the zone; a school in another zone defers to 10:30 there."""
    fam = family(tmp_path, db_url)
    fam.clock.at = ny(8)
    fam.records["schools"] = [school("100", "Bay School", zone)]
    run = int(fam.sync().run_id or 0)
    with fam.app.cache.engine.connect() as conn:
        uniform = detect.district_zone_only(
            conn, fam.app.cache.keyring, "sis", run, detect.ZoneInfo("America/New_York")
        )
    assert uniform is (zone != "America/Los_Angeles")
    fam.sync(attendance=[mark("00001", TODAY, AttendanceCategory.LATE, ny(7, 30))])
    rows = _rows(fam)
    assert [r[2] for r in rows] == ["late"]  # to mum
    visible_at = rows[0][6]
    assert isinstance(visible_at, dt.datetime)
    if visible_at.tzinfo is None:  # SQLite hands back naive UTC
        visible_at = visible_at.replace(tzinfo=dt.UTC)
    assert visible_at == opens
    fam.app.dispose()


def _scored(score: float) -> dict[str, list[Any]]:
    """A 20-point assignment set yesterday, and child 00000's result of ``score`` points."""
    work = Assignment(
        source_id="a1",
        section_id="s1",
        title="Fractions",
        category=None,
        set_date=YESTERDAY,
        due_date=TODAY,
        points_possible=20.0,
    )
    result = AssignmentResult(
        source_id="r1",
        assignment_id="a1",
        student_id="00000",
        score=score,
        status=ResultStatus.GRADED,
        comment=None,
    )
    return {"assignments": [work], "results": [result]}


def test_a_low_score_is_news_to_each_family_by_its_own_threshold_and_kept_sealed(
    tmp_path: Path, db_url: str
) -> None:
    """Mum's threshold is 70, dad's the district's 50. 60% is news to mum only; corrected
    to 40%, it is news to dad (now under his) and not again to mum (already under hers).
    The news row keeps the scores sealed under the child's key, never in clear."""
    fam = family(tmp_path, db_url, defaults={"low_score": "instant"})
    with fam.app.cache.engine.begin() as conn:
        prefs.save(conn, fam.mum, prefs.Prefs(threshold=70.0), fam.clock())
    fam.clock.at = ny(8)
    fam.records.update(_scored(12.0))
    fam.sync()
    with fam.app.cache.engine.connect() as conn:
        news = conn.execute(select(NEWS.c.kind, NEWS.c.record_ref, NEWS.c.key_id, NEWS.c.score)).all()
    assert [n[0] for n in news] == ["low_score"]
    kind, ref, key_id, blob = news[0]
    sid = fam.app.cache.keyring.index.ref("sis", "student", "00000")
    assert isinstance(blob, bytes) and orjson.dumps([60.0, None]) not in blob
    assert detect.open_score(fam.app.cache.keyring, "sis", ref, sid, key_id, blob) == (60.0, None)
    with pytest.raises(DecryptionError):  # bound to its record: another's ref does not open it
        detect.open_score(fam.app.cache.keyring, "sis", "other", sid, key_id, blob)
    with pytest.raises(DecryptionError):  # and to its child
        detect.open_score(fam.app.cache.keyring, "sis", ref, "other", key_id, blob)
    assert [(a == fam.mum, k) for _, a, k in _queued(fam)] == [(True, "low_score")]

    fam.records.update(_scored(8.0))
    fam.sync()
    assert sorted((a == fam.mum, k) for _, a, k in _queued(fam)) == [
        (False, "low_score"),
        (True, "low_score"),
    ]
    fam.app.dispose()


def test_the_scores_are_sealed_without_filling_the_keyrings_cache(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Detection seals the scores a child's key at a time and keeps no cipher it made:
    past the keyring's 4,096 cached ciphers (a district of more than some 4,000 children)
    each score would otherwise make one and evict another."""
    fam = family(tmp_path, db_url, defaults={"low_score": "instant"})
    fam.clock.at = ny(8)
    fam.records.update(_scored(12.0))
    fam.sync()
    fam.expand()
    keyring = fam.app.cache.keyring
    child = f"student:{keyring.index.ref('sis', 'student', '00000')}"
    key_id = keyring.key_ids_of([child])[child]
    cached = keyring.sealer
    asked: list[str] = []

    def sealer(key: str) -> Any:
        if key == key_id:
            asked.append(sys._getframe(1).f_globals["__name__"])
        return cached(key)

    monkeypatch.setattr(keyring, "sealer", sealer)
    fam.records.update(_scored(8.0))  # the score corrected: news again, sealed
    fam.sync()
    with fam.app.cache.engine.connect() as conn:
        news = conn.execute(select(NEWS.c.kind, NEWS.c.key_id)).all()
    assert news == [("low_score", key_id)]  # sealed under the child's key
    assert "gateway.alerts.detect" not in asked
    fam.app.dispose()


def test_news_taken_by_an_expansion_that_fails_is_left_for_the_next(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The news rows are deleted in the transaction that queues their outbox rows: a sender
    that dies between the two (here, an error in the insert) loses nothing."""
    fam = family(tmp_path, db_url)
    fam.clock.at = ny(8)
    fam.sync(attendance=[_absence(AttendanceCategory.UNAUTHORISED_ABSENCE)])

    def dies(*args: object) -> int:
        raise RuntimeError("killed while queueing")

    with monkeypatch.context() as m:
        m.setattr(detect, "_queue", dies)
        with pytest.raises(RuntimeError):
            fam.expand()
    with fam.app.cache.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(NEWS)).scalar() == 1
        assert conn.execute(select(func.count()).select_from(OUTBOX)).scalar() == 0
    assert fam.expand() == 2  # mum and dad
    assert fam.expand() == 0
    with fam.app.cache.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(NEWS)).scalar() == 0
    fam.app.dispose()


def _news_count(fam) -> int:  # type: ignore[no-untyped-def]
    with fam.app.cache.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(NEWS)).scalar() or 0)


def test_a_score_of_a_child_with_no_data_key_is_not_sealed_under_a_new_one(
    tmp_path: Path, db_url: str
) -> None:
    """A child purged between the publish and detection has no data key: detection makes
    none for them (it would outlive the purge) and writes no score news, as expansion
    skips a score it cannot open."""
    fam = family(tmp_path, db_url, defaults={"low_score": "instant"})
    fam.clock.at = ny(8)
    fam.records.update(_scored(12.0))
    out = fam.sync()
    keyring, cache = fam.app.cache.keyring, fam.app.cache
    with cache.engine.begin() as conn:
        versions = detect.change_set(conn, keyring, "sis", out.run_id)
        conn.execute(NEWS.delete())
    assert [v.kind for v in versions] == ["result"]
    owner = f"student:{keyring.index.ref('sis', 'student', '00000')}"
    keyring.destroy(owner)
    staged = detect.after_publish(cache, fam.app.config).watch()
    staged.versions = versions
    found = detect.detect(cache, fam.app.config, "sis", out.run_id, fam.clock(), staged)
    assert (found.changed, found.queued) == (1, 0)
    assert keyring.key_ids_of([owner]) == {}
    assert _news_count(fam) == 0
    fam.app.dispose()


def test_news_waits_while_alerts_are_off_and_is_counted_when_nothing_can_show_it(
    tmp_path: Path, db_url: str
) -> None:
    fam = family(tmp_path, db_url)
    fam.clock.at = ny(8)
    fam.sync(attendance=[_absence(AttendanceCategory.UNAUTHORISED_ABSENCE)])
    config = fam.app.config
    off = config.model_copy(update={"alerts": config.alerts.model_copy(update={"enabled": False})})
    assert detect.expand(fam.app.cache, off, fam.clock()) == detect.Expanded()
    assert _news_count(fam) == 1
    gone = config.model_copy(update={"connectors": []})  # the source no longer configured
    with capture_logs() as logs:
        got = detect.expand(fam.app.cache, gone, fam.clock())
    assert (got.news, got.discarded, got.queued) == (1, 1, 0)
    assert _news_count(fam) == 0
    assert [e for e in logs if e["event"] == "alerts.news_discarded"] == [
        {"event": "alerts.news_discarded", "news": 1, "log_level": "info"}
    ]
    fam.app.dispose()


def _outbox(fam) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with fam.app.cache.engine.connect() as conn:
        return sorted((a, s) for a, s in conn.execute(select(OUTBOX.c.account_id, OUTBOX.c.student_ref)))


@pytest.mark.parametrize("change", ["hold", "revoked_link"])
def test_a_hold_or_a_revoked_link_between_detection_and_expansion_queues_nothing_for_them(
    tmp_path: Path, db_url: str, change: str
) -> None:
    """Who hears of the news is decided when it is expanded: a hold on the child placed
    after the publish queues nothing for them; a link revoked by a later publish queues
    nothing for that parent (the other still hears)."""
    fam = family(tmp_path, db_url)
    fam.clock.at = ny(8)
    fam.sync(attendance=[_absence(AttendanceCategory.UNAUTHORISED_ABSENCE)])
    assert _news_count(fam) == 1
    sid = fam.app.cache.keyring.index.ref("sis", "student", "00000")
    if change == "hold":
        fam.hold("student", "00000", "child-protection")
        expected = []
    else:
        kept = [c for c in fam.records["contacts"] if getattr(c, "source_id", "") != "00000-c2"]
        fam.records["contacts"] = [*kept, link("00000", "c2", relationship="Father", portal_access=False)]
        fam.sync()  # the revocation's publish: the absence is not news again
        assert _news_count(fam) == 1
        expected = [(fam.mum, sid)]
    assert fam.expand() == len(expected)
    assert _news_count(fam) == 0
    assert _outbox(fam) == expected
    fam.app.dispose()


def test_two_expanders_at_once_take_each_piece_of_news_exactly_once(tmp_path: Path, db_url: str) -> None:
    fam = family(tmp_path, db_url)
    fam.clock.at = ny(8)
    days = [TODAY - dt.timedelta(days=d) for d in range(1, 11)]
    fam.sync(
        attendance=[
            mark(sid, day, AttendanceCategory.UNAUTHORISED_ABSENCE, ny(15, day=day))
            for day in days
            for sid in ("00000", "00001")
        ]
    )
    news = _news_count(fam)
    assert news == 20
    start = threading.Barrier(2)
    results: list[detect.Expanded] = []
    errors: list[BaseException] = []

    def expander() -> None:
        start.wait()
        try:
            results.append(detect.expand(fam.app.cache, fam.app.config, fam.clock(), batch=2))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=expander) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == [] and len(results) == 2
    # Each row taken by one of them: the news taken adds up, and nothing is left.
    assert sum(r.news for r in results) == news
    assert _news_count(fam) == 0
    rows = _outbox(fam)
    with fam.app.cache.engine.connect() as conn:
        keys = conn.execute(select(OUTBOX.c.key)).scalars().all()
    assert len(keys) == len(set(keys)) == len(rows) == sum(r.queued for r in results)
    # Mum and dad for each of 00000's absences, mum for 00001's.
    assert len(rows) == 10 * 2 + 10
    fam.app.dispose()


def _versions() -> list[Record]:
    """A version of every watched kind in every category, status and polarity, with and
    without a score (whole, fractional, not a number) where the kind has one."""
    at = ny(9)
    out: list[Record] = [mark("00000", TODAY, c, at) for c in AttendanceCategory]
    out += [
        AssignmentResult(
            source_id=f"r-{status}-{score}",
            assignment_id="a1",
            student_id="00000",
            score=score,
            status=status,
            comment=None,
        )
        for status in ResultStatus
        for score in (None, 4, 7.5, math.nan)
    ]
    out += [
        Grade(
            source_id=f"g-{pct}",
            student_id="00000",
            section_id="s1",
            term="T1",
            mark="C",
            percent=pct,
            updated_at=at,
        )
        for pct in (None, 55, 61.5, math.inf)
    ]
    out += [incident("00000", 1, at, p) for p in Polarity]
    out.append(
        ProgressReport(
            source_id="p1", student_id="00000", title="Autumn", period="T1", issued_date=TODAY, comments=None
        )
    )
    out.append(notice("n1", Audience.DISTRICT, None, at))
    return out


@pytest.mark.parametrize("version", _versions(), ids=lambda v: v.source_id)
def test_a_staged_record_is_summarised_as_its_stored_payload_is(version: Record) -> None:
    """The staging summarises the record in place, the read back its decoded payload: the
    same summary, so both paths queue the same news."""
    payload = orjson.loads(orjson.dumps(version))
    from_record = detect.summarise(version.kind, version.__getattribute__)
    assert from_record == detect.summarise(version.kind, payload.get)
    for points in (None, 0.0, 20.0):
        assert detect.scored(version.kind, from_record, points) == detect.classify(
            version.kind, payload, points
        )


def test_what_a_version_is_summarised_as() -> None:
    def summary(rec: Any) -> dict[str, float | None]:
        return detect.summarise(rec.kind, rec.__getattribute__)

    at = ny(9)
    assert [summary(mark("00000", TODAY, c, at)) for c in AttendanceCategory] == [
        {},  # present
        {"late": None},
        {},  # approved educational activity
        {"absence": None},
        {"unauthorised_absence": None},
        {},  # not required
    ]
    results = {v.source_id: summary(v) for v in _versions() if v.kind == "result"}
    assert results["r-missing-None"] == {"assignment_missing": None}
    assert results["r-not_submitted-4"] == {"assignment_missing": None, "low_score": 4.0}
    assert results["r-late-7.5"] == {"assignment_late": None, "low_score": 7.5}
    assert results["r-submitted-nan"] == results["r-submitted-None"] == {}  # not a number: no score
    grades = {v.source_id: summary(v) for v in _versions() if v.kind == "grade"}
    assert grades == {"g-None": {}, "g-55": {"low_score": 55.0}, "g-61.5": {"low_score": 61.5}, "g-inf": {}}
    assert [summary(incident("00000", 1, at, p)) for p in Polarity] == [
        {"achievement": None},
        {"behaviour": None},
    ]


def test_a_results_raw_score_is_scored_against_its_assignments_points() -> None:
    summary: dict[str, float | None] = {"assignment_late": None, "low_score": 6.0}
    assert detect.scored("result", summary, 8.0) == {"assignment_late": None, "low_score": 75.0}
    # An assignment without points (none, or 0): the score cannot be a percentage.
    assert (
        detect.scored("result", summary, None)
        == detect.scored("result", summary, 0.0)
        == {"assignment_late": None}
    )
    assert summary == {"assignment_late": None, "low_score": 6.0}  # left as it was
    # A grade's is a percentage already; other kinds carry no score.
    assert detect.scored("grade", {"low_score": 42.0}, 8.0) == {"low_score": 42.0}
    assert detect.scored("attendance", {"late": None}, 8.0) == {"late": None}


def _work(sid: str, points: float | None) -> Assignment:
    return Assignment(
        source_id=sid,
        section_id="s1",
        title=f"Work {sid}",
        category=None,
        set_date=YESTERDAY,
        due_date=TODAY,
        points_possible=points,
    )


def _result(sid: str, work: str, status: ResultStatus, score: float | None) -> AssignmentResult:
    return AssignmentResult(
        source_id=sid, assignment_id=work, student_id="00000", score=score, status=status, comment=None
    )


def _grade(percent: float | None) -> Grade:
    return Grade(
        source_id="g1",
        student_id="00000",
        section_id="s1",
        term="T1",
        mark="C",
        percent=percent,
        updated_at=ny(7, day=YESTERDAY),
    )


def _classified(conn: Any, keyring: Any, source: str, versions: list[StagedVersion]) -> list[detect.Changed]:
    """The alert kinds of each new version and of the version it retired, a result's score
    made a percentage of its assignment's points (:func:`detect.assignments_of`): what
    detection does version by version, kept here as the model it is held to."""
    assignments = detect.assignments_of(conn, keyring, source, versions)
    out = []
    for v in versions:
        if v.kind == "result":
            stamp, day, points = assignments.get(v.parent_ref or "", (None, None, None))
        else:
            stamp, day, points = detect._utc(v.stamp), v.day, None
        found = detect.scored(v.kind, v.summary, points)
        if not found:
            continue
        was = None if v.old is None else detect.scored(v.kind, v.old, points)
        out.append(detect.Changed(v.kind, v.ref, v.student_ref, stamp, day, found, was, v.audience))
    return out


def _expected_news(fam, run: int) -> tuple[int, list[tuple[object, ...]]]:  # type: ignore[no-untyped-def]
    """What the run's versions give by :func:`_classified` and the news test, each
    record's kinds its new version has and its retired one had not, a score news when it
    fell (or is new): (changed versions, news rows as detection writes them, scores opened)."""
    app = fam.app
    config, keyring = app.config, app.cache.keyring
    tz = detect.ZoneInfo(config.district.timezone)
    offered = set(config.alerts.kinds)
    rows: list[tuple[object, ...]] = []
    with app.cache.engine.connect() as conn:
        changed = _classified(conn, keyring, "sis", detect.change_set(conn, keyring, "sis", run))
    for c in changed:
        if c.kind == "notice":
            if not (c.old and "notice" in c.old):
                rows.append(("notice", c.ref, None, "notice", None, None))
            continue
        at = detect._visible_at(config.visibility, c, tz, fam.clock()).replace(tzinfo=None)
        old = c.old or {}
        for k in c.found:
            if k != "low_score" and k in offered and k not in old:
                rows.append((c.kind, c.ref, c.student_ref, k, at, None))
        score, was = c.found.get("low_score"), old.get("low_score")
        if score is not None and (was is None or score < was):
            rows.append((c.kind, c.ref, c.student_ref, "low_score", at, (score, was)))
    return len(changed), sorted(rows, key=repr)


def _news(fam, run: int) -> list[tuple[object, ...]]:  # type: ignore[no-untyped-def]
    n = NEWS.c
    keyring = fam.app.cache.keyring
    with fam.app.cache.engine.connect() as conn:
        got = conn.execute(
            select(n.record_kind, n.record_ref, n.student_ref, n.kind, n.visible_at, n.key_id, n.score).where(
                n.record_run == run
            )
        ).all()
    out = []
    for kind, ref, student, alert, at, key_id, blob in got:
        score = None if blob is None else detect.open_score(keyring, "sis", ref, student, key_id, blob)
        at = None if at is None else at.astimezone(dt.UTC).replace(tzinfo=None) if at.tzinfo else at
        out.append((kind, ref, student, alert, at, score))
    return sorted(out, key=repr)


@pytest.mark.parametrize("per_statement", [detect.NEWS_ROWS_PER_STATEMENT, 2])
def test_detection_writes_the_news_the_classified_versions_and_the_news_test_give(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, per_statement: int
) -> None:
    """Detection classifies and tests each version in one pass: its news rows are those that
    :func:`_classified` and the news test give, a result scored by its assignment's
    points (none, or 0: no score news; a result with nothing else is no change), a score
    news only when it fell, an edited notice not news again. With two rows a statement
    (SQLite), the rows and the scores each span statements, the last of them part-full."""
    monkeypatch.setattr(detect, "NEWS_ROWS_PER_STATEMENT", per_statement)
    fam = family(tmp_path, db_url, defaults={"low_score": "instant"})
    fam.clock.at = ny(8)
    counted: list[int] = []
    real = detect.detect

    def spy(*args: Any, **kwargs: Any) -> detect.Detected:
        found = real(*args, **kwargs)
        counted.append(found.changed)
        return found

    monkeypatch.setattr(detect, "detect", spy)
    ref = fam.app.cache.keyring.index.ref
    works = [_work("a20", 20.0), _work("a0", None), _work("az", 0.0)]

    def synced(results: list[AssignmentResult], grade: float | None, body: str) -> int:
        fam.records.update(
            assignments=works,
            results=results,
            grades=[_grade(grade)],
            notices=[dataclasses.replace(notice("n1", Audience.DISTRICT, None, ny(7)), body=body)],
        )
        run = int(fam.sync().run_id or 0)
        assert counted[-1] == _expected_news(fam, run)[0]
        assert _news(fam, run) == _expected_news(fam, run)[1]
        return run

    run = synced(
        [
            _result("r1", "a20", ResultStatus.GRADED, 12.0),  # 60%
            _result("r2", "a0", ResultStatus.LATE, 5.0),  # late; no points: no score
            _result("r3", "a0", ResultStatus.GRADED, 3.0),  # a score without points: no change
            _result("r4", "az", ResultStatus.MISSING, 4.0),
        ],
        45.0,
        "Closed on Friday.",
    )
    assert counted[-1] == 5  # r1, r2, r4, the grade, the notice
    assert sorted((r[1], r[3]) for r in _news(fam, run)) == sorted(
        [
            (ref("sis", "result", "r1"), "low_score"),
            (ref("sis", "result", "r2"), "assignment_late"),
            (ref("sis", "result", "r4"), "assignment_missing"),
            (ref("sis", "grade", "g1"), "low_score"),
            (ref("sis", "notice", "n1"), "notice"),
        ]
    )
    run = synced(
        [
            _result("r1", "a20", ResultStatus.LATE, 16.0),  # 80%: up, not news; late is
            _result("r2", "a0", ResultStatus.GRADED, 1.0),  # no kind left
            _result("r3", "a0", ResultStatus.MISSING, 3.0),
            _result("r4", "az", ResultStatus.MISSING, 1.0),  # missing already
        ],
        30.0,  # down: news
        "Closed on Friday and Monday.",  # edited: not news again
    )
    assert sorted((r[1], r[3], r[5]) for r in _news(fam, run)) == sorted(
        [
            (ref("sis", "result", "r1"), "assignment_late", None),
            (ref("sis", "result", "r3"), "assignment_missing", None),
            (ref("sis", "grade", "g1"), "low_score", (30.0, 45.0)),
        ]
    )
    fam.app.dispose()
