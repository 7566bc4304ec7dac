"""The PowerSchool-like simulator: wire quirks, auth, writes refused and counted, paging, overlay."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from connectors.records import Record
from simulators.district.synthetic import DistrictSpec, SyntheticDistrict
from simulators.powerschool.core import PowerSchoolSim

CID, SECRET = "demo-client", "demo-secret"


class Watched:
    """A district that records every iter() range asked of it."""

    def __init__(self, inner: SyntheticDistrict) -> None:
        self.inner = inner
        self.year_start = inner.year_start
        self.today = inner.today
        self.calls: list[tuple[str, int, int | None]] = []

    def count(self, kind: str) -> int:
        return self.inner.count(kind)

    def iter(self, kind: str, start: int = 0, stop: int | None = None) -> Iterator[Record]:
        self.calls.append((kind, start, stop))
        return self.inner.iter(kind, start, stop)


@pytest.fixture(scope="module")
def district() -> SyntheticDistrict:
    return SyntheticDistrict(DistrictSpec(seed=2, schools=2, students=40))


class Client:
    def __init__(self, sim: PowerSchoolSim) -> None:
        self.sim = sim
        self.http = httpx.Client(base_url="http://sis.test", transport=httpx.MockTransport(sim.handle))
        basic = base64.b64encode(f"{CID}:{SECRET}".encode()).decode()
        r = self.http.post(
            "/oauth/access_token/",
            headers={"Authorization": f"Basic {basic}"},
            data={"grant_type": "client_credentials"},
        )
        self.token = r.json()["access_token"]
        self.expires_in = r.json()["expires_in"]

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params, headers={"Authorization": f"Bearer {self.token}"})

    def post(self, path: str, **params: Any) -> httpx.Response:
        return self.http.post(path, params=params, json={}, headers={"Authorization": f"Bearer {self.token}"})


@pytest.fixture
def client(district: SyntheticDistrict) -> Client:
    return Client(PowerSchoolSim(district, client_id=CID, client_secret=SECRET, v1_page_cap=5))


def test_the_token_comes_with_expires_in_as_a_string(client: Client) -> None:
    assert client.expires_in == "3600"


def test_wrong_client_credentials_get_no_token(district: SyntheticDistrict) -> None:
    sim = PowerSchoolSim(district, client_id=CID, client_secret=SECRET)
    basic = base64.b64encode(f"{CID}:guess".encode()).decode()
    request = httpx.Request(
        "POST",
        "http://sis.test/oauth/access_token",
        headers={"Authorization": f"Basic {basic}"},
        content=b"grant_type=client_credentials",
    )
    r = sim.handle(request)
    assert r.status_code == 401 and sim.tokens_issued == 0


def test_resources_without_a_token_answer_401(client: Client) -> None:
    assert client.http.get("/ws/v1/metadata").status_code == 401


def test_metadata_announces_page_caps_as_strings(client: Client) -> None:
    meta = client.get("/ws/v1/metadata").json()["metadata"]
    assert meta["student_max_page_size"] == "5" and meta["schema_table_query_max_page_size"] == "1000"


def test_writes_answer_405_and_are_counted_while_powerqueries_are_not(client: Client) -> None:
    auth = {"Authorization": f"Bearer {client.token}"}
    assert client.http.put("/ws/v1/student/1", headers=auth).status_code == 405
    assert client.http.delete("/ws/schema/table/cc", headers=auth).status_code == 405
    assert client.http.post("/ws/schema/table/cc", headers=auth).status_code == 405
    assert client.post("/ws/schema/query/com.portico.guardians.contacts/count").status_code == 200
    assert client.sim.writes == 3


def test_a_page_of_one_student_is_an_object_and_a_page_of_none_is_an_empty_string(client: Client) -> None:
    school = client.get("/ws/v1/district/school").json()["schools"]["school"][0]["id"]
    count = int(client.get(f"/ws/v1/school/{school}/student/count").json()["resource"]["count"])
    last_page = -(-count // 5)
    body = client.get(f"/ws/v1/school/{school}/student", page=last_page, pagesize=5).json()
    expected_last = count - (last_page - 1) * 5
    block = body["students"]["student"]
    assert isinstance(block, dict) if expected_last == 1 else len(block) == expected_last
    one = client.get(f"/ws/v1/school/{school}/student", page=count, pagesize=1).json()
    assert isinstance(one["students"]["student"], dict)
    assert client.get("/ws/v1/school/999/student").json() == {"students": ""}


def test_student_expansions_are_sent_only_when_asked_for(client: Client) -> None:
    school = client.get("/ws/v1/district/school").json()["schools"]["school"][0]["id"]
    plain = client.get(f"/ws/v1/school/{school}/student").json()["students"]["student"][0]
    full = client.get(f"/ws/v1/school/{school}/student", expansions="demographics,school_enrollment")
    student = full.json()["students"]["student"][0]
    assert "demographics" not in plain and "birth_date" in student["demographics"]


def test_page_size_is_capped(client: Client) -> None:
    body = client.get("/ws/v1/district/school/0/../school").json()  # unknown path shapes are 404s
    assert body == {"message": "not found"}
    items = client.get("/ws/v1/school/100/section", pagesize=500).json()["sections"]["section"]
    assert len(items) == 5


def test_projection_limits_columns_and_unknown_fields_are_invalid(client: Client) -> None:
    body = client.get("/ws/schema/table/attendance", projection="id,att_date", pagesize=3).json()
    cols = body["record"][0]["tables"]["attendance"]
    assert set(cols) == {"id", "att_date"} and isinstance(body["record"], list)
    bad = client.get("/ws/schema/table/attendance", projection="id,ssn")
    assert bad.status_code == 400 and bad.json() == {"message": "Invalid field ssn"}


def test_tables_without_transaction_date_say_invalid_field(client: Client) -> None:
    r = client.get("/ws/schema/table/section_meeting", q="transaction_date=ge=2026-01-01T00:00:00+00:00")
    assert r.status_code == 400 and r.json() == {"message": "Invalid field transaction_date"}


def test_q_filters_and_count_agree(client: Client, district: SyntheticDistrict) -> None:
    marks: list[Any] = list(district.iter("attendance"))
    day = marks[0].date.isoformat()
    q = f"att_date=le={day}"
    count = client.get("/ws/schema/table/attendance/count", q=q).json()["count"]
    rows = client.get("/ws/schema/table/attendance", q=q, pagesize=1000).json()["record"]
    assert count == len(rows) == sum(1 for a in marks if a.date.isoformat() <= day)


def test_pages_are_generated_from_bounded_ranges_of_the_district(district: SyntheticDistrict) -> None:
    watched = Watched(district)
    client = Client(PowerSchoolSim(watched, client_id=CID, client_secret=SECRET, schema_page_cap=100))
    client.get("/ws/schema/table/attendance", page=3, pagesize=100)
    assert [c for c in watched.calls if c[0] == "attendance"] == [("attendance", 200, 300)]
    # Beside it only the small structural kinds are read whole, once (to know each row's school).
    assert {c[0] for c in watched.calls} - {"attendance"} <= {"student", "section", "assignment"}


def test_changed_records_get_a_later_transaction_date_and_deleted_ones_leave_every_page(
    client: Client, district: SyntheticDistrict
) -> None:
    sim = client.sim
    before = client.get("/ws/schema/table/log", pagesize=1000).json()["record"]
    latest = max(dt.datetime.fromisoformat(r["tables"]["log"]["transaction_date"]) for r in before)
    changed = sim.state.change("behaviour", fraction=0.05)
    gone = sim.state.delete("behaviour", ids=[before[0]["id"], before[-1]["id"]])
    q = f"transaction_date=gt={latest.isoformat()}"
    fresh = client.get("/ws/schema/table/log", q=q, pagesize=1000).json()["record"]
    assert {r["id"] for r in fresh} == set(changed) - set(gone)
    total = client.get("/ws/schema/table/log/count").json()["count"]
    seen = []
    for page in range(1, total // 7 + 2):
        seen += [r["id"] for r in client.get("/ws/schema/table/log", page=page, pagesize=7).json()["record"]]
    assert len(seen) == len(set(seen)) == total == district.count("behaviour") - 2
    assert set(gone).isdisjoint(seen)


def test_faults_count_down(client: Client) -> None:
    client.sim.faults.rate_limit_next = 1
    client.sim.faults.retry_after = "Wed, 25 Nov 2026 10:00:00 GMT"
    r = client.get("/ws/v1/metadata")
    assert r.status_code == 429 and r.headers["Retry-After"].endswith("GMT")
    client.sim.faults.server_errors_next = 1
    assert client.get("/ws/v1/metadata").status_code == 503
    assert client.get("/ws/v1/metadata").status_code == 200
    client.sim.faults.drop_next = 1
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/ws/v1/metadata")
    assert orjson.loads(client.get("/ws/v1/metadata").content)["metadata"]


@pytest.mark.parametrize("index", [0, 1, 999, 1000, 59_999, 3_599_999, 86_399_999, 86_400_000, 123_456_789])
def test_base_transaction_dates_rise_a_millisecond_per_position(
    district: SyntheticDistrict, index: int
) -> None:
    from simulators.powerschool.state import SimState

    state = SimState(district)
    text = state.base_txn(index)
    assert dt.datetime.fromisoformat(text) - dt.datetime.fromisoformat(state.base_txn(0)) == dt.timedelta(
        milliseconds=index
    )
    assert state._base_index_from(text) == index  # noqa: SLF001 - the inverse the q= filter relies on


def test_faults_parse_from_cli_pairs() -> None:
    from simulators.powerschool.server import Faults

    f = Faults.parse(["rate_limit_next=3", "retry_after=5", "delay=0.25", "count_skew.attendance=-1",
                      "expire_tokens_after=10", "revoked=no"])  # fmt: skip
    assert (f.rate_limit_next, f.retry_after, f.delay, f.count_skew, f.expire_tokens_after, f.revoked) == (
        3, "5", 0.25, {"attendance": -1}, 10, False,
    )  # fmt: skip
    with pytest.raises(ValueError, match="unknown fault"):
        Faults.parse(["rate_limit=3"])
    with pytest.raises(ValueError):
        Faults.parse(["delay=slow"])


def test_a_token_dies_after_its_request_budget(district: SyntheticDistrict) -> None:
    client = Client(PowerSchoolSim(district, client_id=CID, client_secret=SECRET))
    client.sim.faults.token_max_requests = 2
    assert [client.get("/ws/v1/metadata").status_code for _ in range(3)] == [200, 200, 401]
