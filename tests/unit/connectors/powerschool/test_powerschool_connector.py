"""The PowerSchool connector against the simulator: exact full reads, faults, incremental, refusals."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cache.store import open_cache
from config.errors import SourceAuthError, SourceDataError, SourceUnavailableError
from config.secrets import SecretResolver
from connectors import registry
from connectors.base import Connector, KeyReader, Page
from connectors.powerschool import declare
from connectors.powerschool.connector import Options, PowerSchoolConnector
from connectors.powerschool.errors import FieldRefusedError
from gateway.sync.engine import SyncEngine
from simulators.district.synthetic import DistrictSpec, SyntheticDistrict
from simulators.powerschool.core import PowerSchoolSim
from simulators.powerschool.model import CONNECTOR_OPTIONS
from simulators.powerschool.server import make_app, run_in_thread
from tests.support.config import make_config

CID, SECRET = "demo-client", "demo-secret"


@pytest.fixture(scope="module")
def district() -> SyntheticDistrict:
    return SyntheticDistrict(DistrictSpec(seed=11, schools=2, students=40))


@pytest.fixture
def sim(district: SyntheticDistrict) -> PowerSchoolSim:
    # Small caps so every stream spans several pages.
    return PowerSchoolSim(district, client_id=CID, client_secret=SECRET, v1_page_cap=1, schema_page_cap=200)


def connect(
    sim: PowerSchoolSim | None = None,
    sleeps: list[float] | None = None,
    base_url: str = "https://sis.test",
    transport: httpx.BaseTransport | None = None,
    secret: str = SECRET,
    **options: Any,
) -> PowerSchoolConnector:
    record = sleeps if sleeps is not None else []
    ctx = registry.BuildContext(
        secrets=SecretResolver(env={"PS_ID": CID, "PS_SECRET": secret}),
        transport=transport or (httpx.MockTransport(sim.handle) if sim else None),
        sleep=record.append,
    )
    opts = {
        "base_url": base_url,
        "client_id": {"env": "PS_ID"},
        "client_secret": {"env": "PS_SECRET"},
        **CONNECTOR_OPTIONS,
        **options,
    }
    connector = registry.build("powerschool", "sis", opts, ctx)
    assert isinstance(connector, PowerSchoolConnector)
    return connector


def records(pages: Iterator[Page] | list[Page]) -> list[Any]:
    out: list[Any] = []
    for page in pages:
        assert page.rejected == []
        out.extend(page.records)
    return out


def by_id(items: list[Any]) -> list[Any]:
    return sorted(items, key=lambda rec: rec.source_id)


def test_the_connector_meets_the_contract_and_lists_streams_in_dependency_order(sim: PowerSchoolSim) -> None:
    c = connect(sim)
    assert isinstance(c, Connector) and isinstance(c, KeyReader)
    names = [s.name for s in c.streams()]
    assert names[:5] == ["schools", "students", "contacts", "links", "sections"]
    assert names.index("enrollments") < names.index("attendance") < names.index("reports")


def test_a_full_read_of_every_stream_equals_what_the_server_holds(sim: PowerSchoolSim) -> None:
    c = connect(sim)
    for stream in c.streams():
        pages = list(c.read(stream.name, None))
        (kind,) = stream.kinds
        want = sim.expected(kind)
        assert by_id(records(pages)) == by_id(want), stream.name
        assert all(p.full for p in pages)
        assert sum(len(p.keys or []) for p in pages) >= len(want) > 0
        if stream.incremental:
            assert pages[-1].cursor is not None
    assert sim.writes == 0 and sim.tokens_issued == 1


def test_streams_without_a_district_mapping_or_table_are_not_offered(sim: PowerSchoolSim) -> None:
    names = [s.name for s in connect(sim, log_types={}, notices_table=None, reports_table=None).streams()]
    assert "behaviour" not in names and "notices" not in names and "reports" not in names


def test_a_full_sync_makes_zero_write_calls_and_the_counter_would_see_one(sim: PowerSchoolSim) -> None:
    c = connect(sim)
    for stream in c.streams():
        list(c.read(stream.name, None, full=True))
    assert sim.writes == 0
    sim.handle(httpx.Request("PUT", "https://sis.test/ws/v1/student/1"))
    assert sim.writes == 1


def test_the_key_only_reread_asks_for_key_columns_and_finds_the_same_rows(sim: PowerSchoolSim) -> None:
    c = connect(sim)
    c.sent = []
    first = [k for p in c.read("attendance", None) for k in p.keys or []]
    c.sent = []
    again = [k for keys in c.read_keys("attendance") for k in keys]
    assert sorted(again) == sorted(first)
    pages = [s for s in c.sent if s.path == "/ws/schema/table/attendance"]
    assert pages and all(s.params["projection"] == "dcid" for s in pages)


def test_a_stream_read_in_one_page_is_not_read_again_to_confirm_it(sim: PowerSchoolSim) -> None:
    c = connect(sim)
    list(c.read("schools", None))
    list(c.read("students", None))  # 40 students, cap 200: one page
    c.sent = []
    assert sorted(k for keys in c.read_keys("students") for k in keys) == sorted(
        rec.source_id for rec in sim.expected("student")
    )
    assert c.sent == []


def test_the_school_list_is_read_once_per_run(sim: PowerSchoolSim) -> None:
    c = connect(sim)
    c.sent = []
    for stream in c.streams():
        list(c.read(stream.name, None))
        list(c.read_keys(stream.name))
    # One read of the list: its count, then its pages (cap 1: two schools and the empty page after).
    assert sum(1 for s in c.sent if s.path == "/ws/v1/district/school/count") == 1
    assert sum(1 for s in c.sent if s.path == "/ws/v1/district/school") == 3


def test_429_with_retry_after_is_honoured_and_counted_on_the_page(sim: PowerSchoolSim) -> None:
    sleeps: list[float] = []
    c = connect(sim, sleeps)
    list(c.read("schools", None))
    list(c.read("students", None))
    sim.faults.rate_limit_next = 2
    sim.faults.retry_after = "4"
    pages = list(c.read("attendance", None))
    assert [s for s in sleeps if s >= 4] and len(sleeps) == 2
    assert sum(p.retries for p in pages) == 2


def test_a_burst_of_5xx_mid_stream_is_retried_without_losing_a_page(sim: PowerSchoolSim) -> None:
    c = connect(sim)
    pages = c.read("results", None)
    got = records([next(pages)])
    sim.faults.server_errors_next = 3
    got += records(pages)
    assert by_id(got) == by_id(sim.expected("result"))


def test_token_expiry_mid_paging_refreshes_once_and_no_page_is_lost_or_doubled(sim: PowerSchoolSim) -> None:
    c = connect(sim)
    pages = c.read("attendance", None)
    got = records([next(pages), next(pages)])
    sim.faults.expire_tokens_after = 0  # every token issued so far dies now
    got += records(pages)
    assert sim.tokens_issued == 2
    ids = [rec.source_id for rec in got]
    assert len(ids) == len(set(ids)) == len(sim.expected("attendance"))


def test_repeated_401_even_after_refresh_stops_with_auth_error(sim: PowerSchoolSim) -> None:
    c = connect(sim)
    list(c.read("schools", None))
    sim.faults.revoked = True
    with pytest.raises(SourceAuthError):
        list(c.read("schools", None))


@pytest.mark.parametrize("skew", [1, -1])
def test_a_count_that_does_not_match_the_rows_stops_the_stream(sim: PowerSchoolSim, skew: int) -> None:
    sim.faults.count_skew["attendance"] = skew
    with pytest.raises(SourceDataError, match="attendance"):
        list(connect(sim).read("attendance", None))


@pytest.mark.parametrize("table", ["cc", "assignmentscore"])
def test_a_table_without_its_cursor_column_falls_back_to_a_full_pull(
    district: SyntheticDistrict, table: str
) -> None:
    sim = PowerSchoolSim(district, client_id=CID, client_secret=SECRET, tables_without_txn=[table])
    stream, kind, column = {"cc": ("enrollments", "enrollment", "transaction_date"),
                            "assignmentscore": ("results", "result", "whenmodified")}[table]  # fmt: skip
    state = json.dumps({table: "2026-09-01 00:00:00"})
    c = connect(sim)
    c.sent = []
    pages = list(c.read(stream, state))
    assert all(p.full for p in pages) and pages[-1].cursor is None
    assert by_id(records(pages)) == by_id(sim.expected(kind))
    asked = [s for s in c.sent if s.path == f"/ws/schema/table/{table}"]
    assert asked and all(column not in s.params["projection"] + s.params.get("q", "") for s in asked)


def test_the_fallback_keys_on_the_field_a_refusal_names_not_its_wording(sim: PowerSchoolSim) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        q = request.url.params.get("q", "")
        if request.url.path.startswith("/ws/schema/table/cc") and "transaction_date" in (
            q + request.url.params.get("projection", "")
        ):
            return httpx.Response(
                403, json={"error": "Zugriff verweigert", "detail": ["CC.TRANSACTION_DATE"]}
            )
        return sim.handle(request)

    pages = list(
        connect(transport=httpx.MockTransport(refuse)).read("enrollments", json.dumps({"cc": "2026-09-01"}))
    )
    assert all(p.full for p in pages) and pages[-1].cursor is None
    assert by_id(records(pages)) == by_id(sim.expected("enrollment"))


def test_an_incremental_read_returns_changed_records_and_advances_the_cursor(sim: PowerSchoolSim) -> None:
    c = connect(sim)
    first = list(c.read("attendance", None))
    state = first[-1].cursor
    assert state is not None and json.loads(state)["attendance"]
    some = [rec.source_id for rec in first[0].records[3:6]]
    sim.state.change("attendance", ids=some)
    pages = list(c.read("attendance", state))
    got = records(pages)
    assert not any(p.full for p in pages)
    assert set(some) <= {rec.source_id for rec in got} and len(got) <= len(some) + 1
    before = {rec.source_id: rec for rec in first[0].records}
    assert all(rec.recorded_at > before[rec.source_id].recorded_at for rec in got if rec.source_id in some)
    new_state = pages[-1].cursor
    assert new_state is not None and json.loads(new_state)["attendance"] > json.loads(state)["attendance"]
    again = {rec.source_id for rec in records(c.read("attendance", new_state))}
    assert len(again) == 1  # only the record at the cursor itself: the filter is inclusive


def test_grades_keep_one_cursor_per_table(sim: PowerSchoolSim) -> None:
    c = connect(sim)
    state = list(c.read("grades", None))[-1].cursor
    assert state is not None and set(json.loads(state)) == {"storedgrades", "pgfinalgrades"}
    changed = [g.source_id for g in sim.expected("grade") if g.source_id.startswith("pgfinalgrades:")][:2]
    sim.state.change("grade", ids=changed)
    got = {rec.source_id for rec in records(c.read("grades", state))}
    assert set(changed) <= got and len(got) <= 4


def test_full_true_ignores_the_cursor(sim: PowerSchoolSim) -> None:
    c = connect(sim)
    cursor = list(c.read("grades", None))[-1].cursor
    pages = list(c.read("grades", cursor, full=True))
    assert all(p.full for p in pages) and len(records(pages)) == len(sim.expected("grade"))


def test_deleted_and_inserted_records_show_in_the_next_full_read(sim: PowerSchoolSim) -> None:
    gone = sim.state.delete("behaviour", fraction=0.1)
    extra = next(sim.model.iter("behaviour", 0, 1))
    sim.state.insert([dataclasses.replace(extra, source_id="59999999")])
    got = {rec.source_id for rec in records(connect(sim).read("behaviour", None))}
    assert got.isdisjoint(gone) and "59999999" in got
    assert len(got) == sim.district.count("behaviour") - len(gone) + 1


def test_school_ids_restricts_every_stream_but_contacts_links_and_notices_to_those_schools(
    sim: PowerSchoolSim,
) -> None:
    school = next(sim.district.iter("school")).source_id
    c = connect(sim, school_ids=[school])
    assert [s.source_id for s in records(c.read("schools", None))] == [school]
    students = records(c.read("students", None))
    assert students and all(s.school_id == school for s in students)
    mine = {s.source_id for s in students}
    assert len(students) == sum(1 for s in sim.expected("student") if s.school_id == school)
    for stream, kind in (("attendance", "attendance"), ("results", "result"), ("grades", "grade"),
                         ("behaviour", "behaviour")):  # fmt: skip
        got = records(c.read(stream, None))
        assert got and {m.student_id for m in got} <= mine, stream
        assert len(got) == sum(1 for m in sim.expected(kind) if m.student_id in mine), stream
    sections = {s.source_id for s in records(c.read("sections", None))}
    enrolments: list[Any] = records(c.read("enrollments", None))
    assert enrolments and {e.section_id for e in enrolments} <= sections
    assert len(records(c.read("notices", None))) == sim.district.count("notice")
    assert len(records(c.read("links", None))) == sim.district.count("link")


def test_an_unknown_school_in_school_ids_stops_the_run(sim: PowerSchoolSim) -> None:
    with pytest.raises(SourceDataError, match="school_ids"):
        list(connect(sim, school_ids=["99999"]).read("students", None))


def test_page_size_option_is_capped_by_the_metadata(sim: PowerSchoolSim) -> None:
    small = list(connect(sim, page_size=50).read("grades", None))
    capped = list(connect(sim, page_size=5000).read("grades", None))
    assert all(len(p.records) <= 50 for p in small)
    assert max(len(p.records) for p in capped) == 200


def test_check_reports_problems_instead_of_raising(sim: PowerSchoolSim) -> None:
    assert connect(sim).check().ok
    assert not connect(sim, secret="wrong").check().ok

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    result = connect(transport=httpx.MockTransport(refuse), max_attempts=2).check()
    assert not result.ok and "sis" in result.problems[0]


def test_a_server_without_a_zone_asks_for_the_option(sim: PowerSchoolSim) -> None:
    def no_zone(request: httpx.Request) -> httpx.Response:
        response = sim.handle(request)
        if request.url.path == "/ws/v1/metadata":
            body = json.loads(response.content)
            del body["metadata"]["district_timezone"]
            return httpx.Response(200, json=body)
        return response

    with pytest.raises(SourceDataError, match="options.timezone"):
        list(connect(transport=httpx.MockTransport(no_zone)).read("schools", None))
    schools = records(
        connect(transport=httpx.MockTransport(no_zone), timezone="America/Denver").read("schools", None)
    )
    assert {s.timezone for s in schools} == {"America/Denver"}


def test_options_refuse_unknown_keys_bad_zones_tables_and_categories() -> None:
    base = {"client_id": {"env": "A"}, "client_secret": {"env": "B"}, "base_url": "https://sis.example.org"}
    with pytest.raises(ValueError, match="pagesize"):
        Options.model_validate({**base, "pagesize": 5})
    with pytest.raises(ValueError, match="https"):
        Options.model_validate({**base, "base_url": "ftp://sis.example.org"})
    with pytest.raises(ValueError, match="IANA"):
        Options.model_validate({**base, "timezone": "Mars/Olympus"})
    with pytest.raises(ValueError, match="table name"):
        Options.model_validate({**base, "notices_table": "notices; drop"})
    with pytest.raises(ValueError):
        Options.model_validate({**base, "attendance_codes": {"T": "tardy-ish"}})


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://sis.example.org", True),
        ("http://127.0.0.1:8700", True),
        ("http://localhost:8700", True),
        ("http://[::1]:8700", True),
        ("http://sis.example.org", False),
        ("http://10.0.0.5", False),
        ("https://[not-a-host", False),
        ("https://", False),
    ],
)
def test_plain_http_is_allowed_only_to_loopback(url: str, ok: bool) -> None:
    base = {"client_id": {"env": "A"}, "client_secret": {"env": "B"}, "base_url": url}
    if ok:
        assert Options.model_validate(base).base_url == url
    else:
        with pytest.raises(ValueError, match="loopback|https://"):
            Options.model_validate(base)


def test_over_a_real_loopback_server_drops_and_slow_pages_are_survived_or_reported(
    district: SyntheticDistrict,
) -> None:
    app = make_app(district, client_id=CID, client_secret=SECRET, schema_page_cap=500)
    sim: PowerSchoolSim = app.state.sim
    base_url, stop = run_in_thread(app)
    try:
        c = connect(base_url=base_url, timeout=0.5, max_attempts=2)
        sim.faults.drop_next = 1
        got = records(c.read("enrollments", None))
        assert by_id(got) == by_id(sim.expected("enrollment"))
        assert c.client.retries == 1 and sim.writes == 0
        sim.faults.delay = 1.0
        with pytest.raises(SourceUnavailableError, match="timed out"):
            list(c.read("notices", None))
        c.close()
    finally:
        sim.faults.delay = 0.0
        stop()


def test_an_unreadable_state_means_a_full_read(sim: PowerSchoolSim) -> None:
    for state in ("not-a-date", "2026-09-01T00:00:00+00:00", json.dumps({"pgfinalgrades": "yesterday"})):
        pages = list(connect(sim).read("grades", state))
        assert all(p.full for p in pages) and len(records(pages)) == len(sim.expected("grade"))


def test_the_cursor_is_the_latest_instant_whatever_the_layout() -> None:
    from connectors.powerschool.paging import latest

    rows = [
        {"transaction_date": "2026-09-01 10:00:00.000000"},
        {"transaction_date": "2026-09-01T12:30:00"},  # the latest
        {"transaction_date": "2026-09-01 11:59:59.999999"},
        {},
    ]
    assert latest(rows, "transaction_date", None) == "2026-09-01T12:30:00"
    assert latest(rows, "transaction_date", "2026-09-02 00:00:00") == "2026-09-02 00:00:00"


def test_tokens_that_die_every_few_requests_are_refreshed_each_time(sim: PowerSchoolSim) -> None:
    sim.faults.token_max_requests = 3
    got = records(connect(sim).read("attendance", None))
    assert by_id(got) == by_id(sim.expected("attendance"))
    assert sim.tokens_issued > 3 and sim.writes == 0


def test_an_undercount_ending_on_a_page_boundary_is_still_caught(district: SyntheticDistrict) -> None:
    sim = PowerSchoolSim(district, client_id=CID, client_secret=SECRET, schema_page_cap=10_000)
    total = len(sim.expected("attendance"))
    sim.faults.count_skew["attendance"] = -1
    with pytest.raises(SourceDataError, match="beyond"):
        list(connect(sim, page_size=total - 1).read("attendance", None))
    sim.faults.count_skew["attendance"] = -total
    with pytest.raises(SourceDataError, match="beyond"):
        list(connect(sim).read("attendance", None))


def test_an_empty_table_is_one_empty_full_page(sim: PowerSchoolSim) -> None:
    sim.state.delete("report", fraction=1.0)
    (page,) = list(connect(sim).read("reports", None))
    assert page.records == [] and page.full and page.expected_total == 0


def test_streams_can_be_limited_and_unknown_names_are_refused(sim: PowerSchoolSim) -> None:
    c = connect(sim, streams=["attendance", "schools"])
    assert [s.name for s in c.streams()] == ["schools", "attendance"]  # dependency order kept
    with pytest.raises(KeyError):
        list(c.read("reports", None))
    with pytest.raises(ValueError, match="repotrs"):
        connect(sim, streams=["repotrs"])


def test_a_missing_table_or_query_says_what_to_install(district: SyntheticDistrict) -> None:
    sim = PowerSchoolSim(district, client_id=CID, client_secret=SECRET, custom_tables=False)
    with pytest.raises(SourceAuthError, match="U_PORTICO_REPORTS is not on this server"):
        list(connect(sim).read("reports", None))


def test_a_refused_field_names_the_table_the_field_and_the_grant(sim: PowerSchoolSim) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/ws/schema/table/attendance":
            body = {
                "message": "Insufficient permission",
                "errors": [{"field": "attendance.attendance_codeid"}],
            }
            return httpx.Response(403, json=body)
        return sim.handle(request)

    with pytest.raises(FieldRefusedError) as err:
        list(connect(transport=httpx.MockTransport(refuse)).read("attendance", None))
    assert (err.value.table, err.value.field, err.value.status) == ("ATTENDANCE", "ATTENDANCE_CODEID", 403)
    assert "grant field ATTENDANCE_CODEID of table ATTENDANCE" in str(err.value)


def test_a_child_enrolled_after_the_map_was_read_is_found_by_reading_the_map_again(
    sim: PowerSchoolSim,
) -> None:
    c = connect(sim)
    list(c.read("schools", None))
    list(c.read("students", None))  # the identity map of this run
    first = next(sim.model.iter("student", 0, 1))
    sim.state.insert([dataclasses.replace(first, source_id="199999")])
    mark = next(sim.model.iter("attendance", 0, 1))
    sim.state.insert([dataclasses.replace(mark, source_id="999999999", student_id="199999")])
    marks = {m.source_id: m for m in records(c.read("attendance", None))}
    assert marks["999999999"].student_id == "199999"


def test_a_first_load_reads_each_table_once_in_full_and_confirms_it_with_key_columns_only(
    tmp_path: Path, sqlite_url: str, sim: PowerSchoolSim, capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = make_config(tmp_path, sqlite_url)
    cache = open_cache(config, SecretResolver(base_dir=tmp_path))
    c = connect(sim)
    c.sent = []
    out = SyncEngine(cache.engine, cache.keyring, config, config.connectors[0]).run(c, full=True)
    cache.dispose()
    assert out.status == "published", out
    pages = [s for s in c.sent if s.path.startswith("/ws/schema/table/") and "page" in s.params]
    by_table: dict[str, list[str]] = {}
    for s in pages:
        by_table.setdefault(s.path.split("/")[4], []).append(s.params["projection"])
    reads = (declare.CC, declare.ATTENDANCE, declare.SECTION_MEETING, declare.STOREDGRADES, declare.PGFINALGRADES,
             declare.LOG, declare.ASSIGNMENTSECTION, declare.ASSIGNMENTSCORE, declare.notices_read("u_portico_notices"),
             declare.reports_read("u_portico_reports"))  # fmt: skip
    keys = {r.table: ",".join(r.key) for r in reads}
    for table, projections in by_table.items():
        # Each table is read with one projection (its columns); a re-read asks for its key alone.
        assert len(set(projections) - {keys.get(table)}) == 1, (table, set(projections))
    assert [s.path for s in c.sent].count("/ws/v1/district/school/count") == 1
    with capsys.disabled():
        print(f"\n  [figure] first load of 40 students (caps 1 and 200): {sim.requests} requests, "
              f"{out.records:,} records, {sim.requests / out.records:.3f} requests per record")  # fmt: skip


def test_log_entries_are_read_incrementally_from_a_week_before_the_latest_date_seen(
    sim: PowerSchoolSim,
) -> None:
    import datetime as dt

    c = connect(sim)
    state = list(c.read("behaviour", None))[-1].cursor
    assert state is not None
    latest = dt.date.fromisoformat(json.loads(state)["log"])
    c.sent = []
    got = records(c.read("behaviour", state))
    since = latest - dt.timedelta(days=7)
    asked = [s.params.get("q", "") for s in c.sent if s.path == "/ws/schema/table/log"]
    assert asked and all(f"entry_date=ge={since.isoformat()}" in q for q in asked)
    zone = sim.model.zone
    want = {e.source_id for e in sim.expected("behaviour") if e.occurred_at.astimezone(zone).date() >= since}
    assert {e.source_id for e in got} == want and 0 < len(want) < len(sim.expected("behaviour"))


def test_the_students_email_map_is_dropped_after_the_students_stream_and_read_again_if_needed(
    sim: PowerSchoolSim,
) -> None:
    # A whole district's e-mail map serves the students stream only: it is not kept for the
    # streams after it (peak RSS flat in district size, docs/PERFORMANCE-scale.md).
    c = connect(sim)
    want = by_id(sim.expected("student"))
    assert any(s.email for s in want)
    first = by_id(records(c.read("students", None)))
    assert first == want
    ctx = c.run.context()
    assert ctx.student_emails == {} and "emails" not in c.run.loaded
    assert ctx.students.school_of  # the identity map stays: later streams need it
    # Read again in the same run, the stream loads the map again and gives the same records.
    assert by_id(records(c.read("students", None))) == want
    assert ctx.student_emails == {}


# --- what a run holds (peak RSS flat in district size, docs/PERFORMANCE-scale.md) -----------


def test_keys_kept_for_a_one_page_stream_are_dropped_when_the_next_stream_is_read(
    sim: PowerSchoolSim,
) -> None:
    c = connect(sim)
    list(c.read("schools", None))
    list(c.read("students", None))  # one page: its keys serve its confirmation
    assert "students" in c._atomic
    list(c.read("contacts", None))
    assert "students" not in c._atomic
    # Asked for later all the same, they are read again from the key columns: the same keys.
    c.sent = []
    assert sorted(k for keys in c.read_keys("students") for k in keys) == sorted(
        rec.source_id for rec in sim.expected("student")
    )
    assert any(s.path == "/ws/schema/table/students" for s in c.sent)


def test_a_pages_decoded_rows_are_freed_before_its_records_are_handed_on(
    sim: PowerSchoolSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectors.powerschool import wire

    pages: list[list[Any]] = []
    table_rows = wire.table_rows

    def recorded(body: Any, table: str) -> list[dict[str, Any]]:
        rows = table_rows(body, table)
        if table == "attendance":
            pages.append(rows)
        return rows

    monkeypatch.setattr(wire, "table_rows", recorded)
    c = connect(sim)
    got = 0
    for n, page in enumerate(c.read("attendance", None), start=1):
        # The n-th page's rows (dicts of every column sent) are emptied once its records are
        # built: while the engine stages them, only the page read ahead is held.
        assert pages[n - 1] == [] and page.records
        got += len(page.records)
    assert n > 3 and got == len(sim.expected("attendance"))


def test_a_map_read_whole_is_built_page_by_page(
    district: SyntheticDistrict, monkeypatch: pytest.MonkeyPatch
) -> None:
    import weakref

    from connectors.powerschool import wire

    class Row(dict[str, Any]):
        pass

    live = [0]
    most: list[int] = []
    query_rows = wire.query_rows

    def tracked(body: Any) -> list[Any]:
        most.append(live[0])  # rows still held when the next page is fetched
        out = []
        for row in query_rows(body):
            kept = Row(row)
            live[0] += 1
            weakref.finalize(kept, lambda: live.__setitem__(0, live[0] - 1))
            out.append(kept)
        return out

    monkeypatch.setattr(wire, "query_rows", tracked)
    small = PowerSchoolSim(district, client_id=CID, client_secret=SECRET, v1_page_cap=1, schema_page_cap=5)
    c = connect(small)
    ctx = c.run.need("emails")
    assert len(ctx.student_emails) > 20 and len(most) > 6
    # The e-mail map of the whole district is read a page at a time: never more than the page
    # at hand and the one read ahead are held (before: every row of every page, to the end).
    assert max(most) <= 2 * 5, most


def test_a_query_page_is_flattened_in_place_never_held_twice() -> None:
    import tracemalloc

    from connectors.powerschool import wire

    text = json.dumps(
        {
            "record": [
                {"tables": {"students": {"dcid": str(i), "student_number": f"S{i:06d}"},
                            "u_email": {"student_email": f"child{i}@example.org"}}}
                for i in range(2_000)
            ]
        }
    )  # fmt: skip
    tracemalloc.start()
    try:
        body = json.loads(text)
        held = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        rows = wire.query_rows(body)
        extra = tracemalloc.get_traced_memory()[1] - held
    finally:
        tracemalloc.stop()
    assert rows[1999] == {
        "dcid": "1999",
        "student_number": "S001999",
        "student_email": "child1999@example.org",
    }
    # Each row sent is dropped as its flat row is made: the page never exists twice over
    # (before: the flat rows on top of the body, some 40% of its size).
    assert extra < 0.25 * held, (held, extra)
