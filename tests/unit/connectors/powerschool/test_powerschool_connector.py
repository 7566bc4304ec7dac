"""The PowerSchool connector against the simulator: exact full reads, faults, incremental."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from config.errors import SourceAuthError, SourceDataError, SourceUnavailableError
from config.secrets import SecretResolver
from connectors import registry
from connectors.base import Connector, Page
from connectors.powerschool.connector import Options, PowerSchoolConnector
from connectors.records import Student
from simulators.district.synthetic import DistrictSpec, SyntheticDistrict
from simulators.powerschool.core import PowerSchoolSim
from simulators.powerschool.server import make_app, run_in_thread

CID, SECRET = "demo-client", "demo-secret"


@pytest.fixture(scope="module")
def district() -> SyntheticDistrict:
    return SyntheticDistrict(DistrictSpec(seed=11, schools=2, students=40))


@pytest.fixture
def sim(district: SyntheticDistrict) -> PowerSchoolSim:
    # Small caps so every stream spans several pages.
    return PowerSchoolSim(district, client_id=CID, client_secret=SECRET, v1_page_cap=7, schema_page_cap=200)


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
    assert isinstance(c, Connector)
    names = [s.name for s in c.streams()]
    assert names[:5] == ["schools", "students", "contacts", "links", "sections"]
    assert names.index("enrollments") < names.index("attendance") < names.index("reports")


def test_a_full_read_of_every_stream_equals_the_district_exactly(
    sim: PowerSchoolSim, district: SyntheticDistrict
) -> None:
    c = connect(sim)
    for stream in c.streams():
        pages = list(c.read(stream.name, None))
        (kind,) = stream.kinds
        want = list(district.iter(kind))
        assert by_id(records(pages)) == by_id(want), stream.name
        assert all(p.full for p in pages)
        assert all(p.expected_total == len(want) for p in pages)
        if stream.incremental:
            assert pages[-1].cursor is not None
    assert sim.writes == 0 and sim.tokens_issued == 1


def test_a_full_sync_makes_zero_write_calls_and_the_counter_would_see_one(sim: PowerSchoolSim) -> None:
    c = connect(sim)
    for stream in c.streams():
        list(c.read(stream.name, None, full=True))
    assert sim.writes == 0
    sim.handle(httpx.Request("PUT", "https://sis.test/ws/v1/student/1"))
    assert sim.writes == 1


def test_429_with_retry_after_is_honoured_and_counted_on_the_page(sim: PowerSchoolSim) -> None:
    sleeps: list[float] = []
    c = connect(sim, sleeps)
    sim.faults.rate_limit_next = 2
    sim.faults.retry_after = "4"
    pages = list(c.read("attendance", None))
    assert [s for s in sleeps if s >= 4] and len(sleeps) == 2
    assert sum(p.retries for p in pages) == 2


def test_a_burst_of_5xx_mid_stream_is_retried_without_losing_a_page(
    sim: PowerSchoolSim, district: SyntheticDistrict
) -> None:
    c = connect(sim)
    pages = c.read("results", None)
    got = records([next(pages)])
    sim.faults.server_errors_next = 3
    got += records(pages)
    assert by_id(got) == by_id(list(district.iter("result")))


def test_token_expiry_mid_paging_refreshes_once_and_no_page_is_lost_or_doubled(
    sim: PowerSchoolSim, district: SyntheticDistrict
) -> None:
    c = connect(sim)
    pages = c.read("attendance", None)
    got = records([next(pages), next(pages)])
    sim.faults.expire_tokens_after = 0  # every token issued so far dies now
    got += records(pages)
    assert sim.tokens_issued == 2
    ids = [rec.source_id for rec in got]
    assert len(ids) == len(set(ids)) == district.count("attendance")


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


def test_a_table_without_transaction_date_falls_back_to_a_full_pull(district: SyntheticDistrict) -> None:
    sim = PowerSchoolSim(district, client_id=CID, client_secret=SECRET, tables_without_txn=["cc"])
    pages = list(connect(sim).read("enrollments", "2026-09-01T00:00:00+00:00"))
    assert all(p.full for p in pages) and pages[-1].cursor is None
    assert by_id(records(pages)) == by_id(list(district.iter("enrollment")))


def test_an_incremental_read_returns_changed_records_and_advances_the_cursor(sim: PowerSchoolSim) -> None:
    c = connect(sim)
    first = list(c.read("attendance", None))
    cursor = first[-1].cursor
    assert cursor is not None
    some = [rec.source_id for rec in first[0].records[3:6]]
    sim.state.change("attendance", ids=some)
    pages = list(c.read("attendance", cursor))
    got = records(pages)
    assert not any(p.full for p in pages)
    assert set(some) <= {rec.source_id for rec in got} and len(got) <= len(some) + 1
    changed: dict[str, Any] = {rec.source_id: rec for rec in got}
    before: dict[str, Any] = {rec.source_id: rec for rec in first[0].records}
    assert all(changed[i].minutes_late != before[i].minutes_late for i in some)
    assert pages[-1].cursor is not None and pages[-1].cursor > cursor
    again = {rec.source_id for rec in records(c.read("attendance", pages[-1].cursor))}
    assert len(again) == 1  # only the record at the cursor itself: the filter is inclusive


def test_full_true_ignores_the_cursor(sim: PowerSchoolSim, district: SyntheticDistrict) -> None:
    c = connect(sim)
    cursor = list(c.read("grades", None))[-1].cursor
    pages = list(c.read("grades", cursor, full=True))
    assert all(p.full for p in pages) and len(records(pages)) == district.count("grade")


def test_deleted_and_inserted_records_show_in_the_next_full_read(
    sim: PowerSchoolSim, district: SyntheticDistrict
) -> None:
    gone = sim.state.delete("behaviour", fraction=0.1)
    extra = next(district.iter("behaviour", 0, 1))
    import dataclasses

    new = dataclasses.replace(extra, source_id="NEW-1")
    sim.state.insert([new])
    got = {rec.source_id for rec in records(connect(sim).read("behaviour", None))}
    assert got.isdisjoint(gone) and "NEW-1" in got
    assert len(got) == district.count("behaviour") - len(gone) + 1


def test_school_ids_restricts_every_stream_but_contacts_and_notices_to_those_schools(
    sim: PowerSchoolSim, district: SyntheticDistrict
) -> None:
    school = next(district.iter("school")).source_id
    c = connect(sim, school_ids=[school])
    assert [s.source_id for s in records(c.read("schools", None))] == [school]
    students = records(c.read("students", None))
    assert students and all(s.school_id == school for s in students)
    roster: list[Any] = list(district.iter("student"))
    assert len(students) == sum(1 for s in roster if s.school_id == school)
    mine = {s.source_id for s in students}
    marks: list[Any] = records(c.read("attendance", None))
    everyone: list[Any] = list(district.iter("attendance"))
    assert marks and {m.student_id for m in marks} <= mine
    assert len(marks) == sum(1 for m in everyone if m.student_id in mine)
    sections = {s.source_id for s in records(c.read("sections", None))}
    enrolments: list[Any] = records(c.read("enrollments", None))
    assert enrolments and {e.section_id for e in enrolments} <= sections
    assert len(records(c.read("notices", None))) == district.count("notice")


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


def test_options_refuse_unknown_keys_and_non_http_urls() -> None:
    base = {"client_id": {"env": "A"}, "client_secret": {"env": "B"}}
    with pytest.raises(ValueError, match="pagesize"):
        Options.model_validate({**base, "base_url": "https://sis.example.org", "pagesize": 5})
    with pytest.raises(ValueError, match="https"):
        Options.model_validate({**base, "base_url": "ftp://sis.example.org"})


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
        assert by_id(got) == by_id(list(district.iter("enrollment")))
        assert c.client.retries == 1 and sim.writes == 0
        sim.faults.delay = 1.0
        with pytest.raises(SourceUnavailableError, match="timed out"):
            list(c.read("notices", None))
        c.close()
    finally:
        sim.faults.delay = 0.0
        stop()


def test_an_unreadable_cursor_means_a_full_read(sim: PowerSchoolSim, district: SyntheticDistrict) -> None:
    pages = list(connect(sim).read("grades", "not-a-date"))
    assert all(p.full for p in pages) and len(records(pages)) == district.count("grade")


def test_the_cursor_is_the_latest_instant_whatever_the_layout() -> None:
    from connectors.powerschool.paging import latest

    rows = [
        {"transaction_date": "2026-09-01T10:00:00.000000+00:00"},
        {"transaction_date": "2026-09-01T08:30:00-04:00"},  # 12:30 UTC: the latest
        {"transaction_date": "2026-09-01T11:59:59.999999+00:00"},
        {},
    ]
    assert latest(rows, None) == "2026-09-01T08:30:00-04:00"
    assert latest(rows, "2026-09-02T00:00:00.000000+00:00") == "2026-09-02T00:00:00.000000+00:00"


def test_tokens_that_die_every_few_requests_are_refreshed_each_time(
    sim: PowerSchoolSim, district: SyntheticDistrict
) -> None:
    sim.faults.token_max_requests = 3
    got = records(connect(sim).read("attendance", None))
    assert by_id(got) == by_id(list(district.iter("attendance")))
    assert sim.tokens_issued > 3 and sim.writes == 0


def test_hand_shaped_quirks_pass_through_the_whole_connector() -> None:
    import respx

    router = respx.MockRouter(base_url="https://sis.test")
    router.post("/oauth/access_token").mock(
        return_value=httpx.Response(200, json={"access_token": "t", "expires_in": "3600"})
    )
    router.get("/ws/v1/metadata").mock(
        return_value=httpx.Response(200, json={"metadata": {"student_max_page_size": "100"}})
    )
    school = {
        "id": "7",
        "name": "North",
        "time_zone": "America/Chicago",
        "school_year": {"start_date": "2026-08-20", "end_date": "2027-06-01"},
    }
    student = {
        "id": "0042",
        "name": {"first_name": "Ana", "last_name": "Silva"},
        "demographics": {"birth_date": "2014-01-02"},
        "school_enrollment": {
            "school_id": 7,
            "grade_level": 0,
            "enroll_status_code": "0",
            "entry_date": "2026-08-20",
        },
        "schedule_setup": "",
        "contact_info": "",
    }
    router.get("/ws/v1/district/school/count").mock(
        return_value=httpx.Response(200, json={"resource": {"count": "1"}})
    )
    router.get("/ws/v1/district/school").mock(
        return_value=httpx.Response(200, json={"schools": {"school": school}})
    )
    router.get("/ws/v1/school/7/student/count").mock(
        return_value=httpx.Response(200, json={"resource": {"count": 1}})
    )
    router.get("/ws/v1/school/7/student").mock(
        return_value=httpx.Response(200, json={"students": {"@expansions": "", "student": student}})
    )
    router.get("/ws/v1/school/7/section/count").mock(
        return_value=httpx.Response(200, json={"resource": {"count": 0}})
    )
    router.get("/ws/v1/school/7/section").mock(return_value=httpx.Response(200, json={"sections": ""}))
    c = connect(transport=httpx.MockTransport(router.handler))
    (page,) = list(c.read("students", None))
    (got,) = page.records
    assert isinstance(got, Student)
    assert (got.source_id, got.school_id, got.grade_level, got.homeroom) == ("0042", "7", "K", None)
    sections = list(c.read("sections", None))
    assert len(sections) == 1 and sections[0].records == [] and sections[0].expected_total == 0


def test_an_undercount_ending_on_a_page_boundary_is_still_caught(district: SyntheticDistrict) -> None:
    total = district.count("grade")
    sim = PowerSchoolSim(district, client_id=CID, client_secret=SECRET, schema_page_cap=10_000)
    sim.faults.count_skew["grade"] = -1
    with pytest.raises(SourceDataError, match="beyond"):
        list(connect(sim, page_size=total - 1).read("grades", None))
    sim.faults.count_skew["grade"] = -total
    with pytest.raises(SourceDataError, match="beyond"):
        list(connect(sim).read("grades", None))


def test_an_empty_table_is_one_empty_full_page(district: SyntheticDistrict) -> None:
    sim = PowerSchoolSim(district, client_id=CID, client_secret=SECRET)
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
