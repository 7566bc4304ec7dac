"""The PowerSchool simulator speaks the real dialect: shapes, namespaces, grants, paging, overlay."""

from __future__ import annotations

import base64
import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from connectors.records import Record
from simulators.district.synthetic import DistrictSpec, SyntheticDistrict
from simulators.powerschool.core import PowerSchoolSim
from simulators.powerschool.grants import BadPlugin, read_plugin
from simulators.powerschool.state import SimState
from tests.support.powerschool import load

CID, SECRET = "demo-client", "demo-secret"


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

    def rows(self, table: str, **params: Any) -> list[dict[str, Any]]:
        body = self.get(f"/ws/schema/table/{table}", **params).json()
        return [r["tables"][table] for r in body.get("record", [])]


def sim_of(district: SyntheticDistrict, **kw: Any) -> PowerSchoolSim:
    return PowerSchoolSim(district, client_id=CID, client_secret=SECRET, **kw)


@pytest.fixture
def client(district: SyntheticDistrict) -> Client:
    return Client(sim_of(district, v1_page_cap=5))


def test_the_token_comes_with_expires_in_as_a_string(client: Client) -> None:
    assert client.expires_in == "3600" and load("token")["expires_in"].isdigit()


def test_wrong_client_credentials_get_no_token(district: SyntheticDistrict) -> None:
    sim = sim_of(district)
    basic = base64.b64encode(f"{CID}:guess".encode()).decode()
    request = httpx.Request("POST", "http://sis.test/oauth/access_token", headers={"Authorization": f"Basic {basic}"},
                            content=b"grant_type=client_credentials")  # fmt: skip
    assert sim.handle(request).status_code == 401 and sim.tokens_issued == 0


def test_resources_without_a_token_answer_401(client: Client) -> None:
    assert client.http.get("/ws/v1/metadata").status_code == 401


def test_metadata_announces_integer_page_caps_and_the_districts_zone(
    client: Client, district: SyntheticDistrict
) -> None:
    meta = client.get("/ws/v1/metadata").json()["metadata"]
    assert meta["student_max_page_size"] == 5 and meta["schema_table_query_max_page_size"] == 1000
    assert meta["district_timezone"] == district.timezone
    assert set(load("metadata")["metadata"]) >= set(meta) - {"powerschool_version"}


def test_writes_answer_405_and_are_counted_while_powerqueries_are_not(client: Client) -> None:
    auth = {"Authorization": f"Bearer {client.token}"}
    assert client.http.put("/ws/v1/student/1", headers=auth).status_code == 405
    assert client.http.delete("/ws/schema/table/cc", headers=auth).status_code == 405
    assert client.http.post("/ws/schema/table/cc", headers=auth).status_code == 405
    assert client.post("/ws/schema/query/com.portico.sis.contacts.persons/count").status_code == 200
    assert client.sim.writes == 3


def test_v1_lists_send_one_element_as_an_object_and_none_as_an_empty_string(client: Client) -> None:
    school = client.get("/ws/v1/district/school").json()["schools"]["school"][0]
    assert (
        set(school) >= {"id", "name", "school_number"}
        and "time_zone" not in school
        and "school_year" not in school
    )
    count = client.get(f"/ws/v1/school/{school['id']}/student/count").json()["resource"]["count"]
    one = client.get(f"/ws/v1/school/{school['id']}/student", page=count, pagesize=1).json()
    assert isinstance(one["students"]["student"], dict)
    assert client.get("/ws/v1/school/999/student").json() == {"students": ""}


def test_v1_ids_are_dcids_and_local_id_is_the_student_number(client: Client) -> None:
    mo = client.sim.model
    school = client.get("/ws/v1/district/school").json()["schools"]["school"][0]
    plain = client.get(f"/ws/v1/school/{school['id']}/student").json()["students"]["student"][0]
    full = client.get(f"/ws/v1/school/{school['id']}/student", expansions="demographics,school_enrollment")
    student = full.json()["students"]["student"][0]
    assert "demographics" not in plain and "school_enrollment" in student
    dcid = str(student["id"])
    assert str(student["local_id"]) == mo.student_number[dcid] != dcid
    enrolment = student["school_enrollment"]
    assert (
        str(enrolment["school_id"]) == str(school["id"])
        and enrolment["school_number"] == school["school_number"]
    )
    assert isinstance(enrolment["enroll_status_code"], int)


def test_the_three_student_numbers_differ_and_cc_points_at_students_id(client: Client) -> None:
    students = client.rows("students", projection="dcid,id,student_number,schoolid", pagesize=100)
    by_id = {s["id"]: s["dcid"] for s in students}
    assert all(s["dcid"] != s["id"] != s["student_number"] for s in students)
    assert {s["id"] for s in students} == {s["dcid"] for s in students}  # each ID is another child's DCID
    enrolment = next(iter(client.sim.expected("enrollment")))
    (cc,) = client.rows("cc", projection="dcid,studentid,sectionid", q=f"dcid=={enrolment.source_id}")
    assert by_id[cc["studentid"]] == enrolment.student_id and cc["studentid"] != enrolment.student_id
    numbers = {s["schoolid"] for s in students}
    dcids = {str(s["id"]) for s in client.get("/ws/v1/district/school").json()["schools"]["school"]}
    assert numbers == dcids and all(  # schoolid is SCHOOL_NUMBER: here, the other school's DCID
        client.sim.model.school_number[s.school_id] == row["schoolid"]
        for s, row in zip(client.sim.expected("student"), students, strict=True)
    )


def test_a_dropped_enrolment_has_negative_section_and_term(district: SyntheticDistrict) -> None:
    client = Client(sim_of(district))
    leaver = district.cases.leaver
    rows = client.rows("cc", projection="studentid,sectionid,termid,dateleft", pagesize=1000)
    mine = [r for r in rows if r["studentid"] == client.sim.model.students_id(leaver)]
    assert mine and all(r["sectionid"].startswith("-") and r["termid"].startswith("-") for r in mine)


def test_projection_limits_columns_and_nulls_are_left_out(client: Client) -> None:
    body = client.get("/ws/schema/table/attendance", projection="dcid,att_date", pagesize=3).json()
    assert isinstance(body["record"], list) and set(body["record"][0]["tables"]["attendance"]) == {
        "dcid",
        "att_date",
    }
    assert isinstance(body["record"][0]["id"], int)
    rows = client.rows("students", projection="dcid,home_room,dob", pagesize=100)
    assert all("dob" in r for r in rows)


def test_an_unknown_column_answers_400_naming_it_and_a_missing_table_404(client: Client) -> None:
    bad = client.get("/ws/schema/table/attendance", projection="dcid,att_code")
    assert bad.status_code == 400 and "att_code" in bad.json()["message"]
    assert client.get("/ws/schema/table/attendance/count", q="whencreated=ge=2026-01-01").status_code == 400
    missing = client.get("/ws/schema/table/announcement")
    assert missing.status_code == 404 and missing.json() == load("errors")["table_not_found"]["body"]


def test_a_page_size_above_the_cap_answers_400(client: Client) -> None:
    assert client.get("/ws/schema/table/attendance", pagesize=1001).status_code == 400


def test_tables_without_transaction_date_refuse_it(district: SyntheticDistrict) -> None:
    client = Client(sim_of(district, tables_without_txn=["cc"]))
    r = client.get("/ws/schema/table/cc", q="transaction_date=ge=2026-01-01 00:00:00")
    assert r.status_code == 400 and "transaction_date" in r.json()["message"]


def test_q_filters_and_count_agree(client: Client) -> None:
    marks = client.sim.expected("attendance")
    day = marks[0].date.isoformat()
    q = f"att_date=le={day};att_mode_code==ATT_ModeDaily"
    count = client.get("/ws/schema/table/attendance/count", q=q).json()["count"]
    rows = client.rows("attendance", q=q, pagesize=1000)
    assert count == len(rows) == sum(1 for a in marks if a.date.isoformat() <= day)
    assert isinstance(count, int)


def test_metadata_with_access_lists_columns_and_what_the_plugin_grants(district: SyntheticDistrict) -> None:
    plugin = _plugin([("ATTENDANCE", "DCID"), ("ATTENDANCE", "STUDENTID")])
    client = Client(sim_of(district, plugin=plugin))
    meta = client.get("/ws/schema/table/attendance/metadata", expansions="access").json()
    access = {c["name"]: c["access"] for c in meta["columns"]}
    assert access["DCID"] == access["STUDENTID"] == "ViewOnly" and access["ATT_COMMENT"] == "NoAccess"
    assert set(load("schema_table_metadata_access")) >= {"name", "primaryKey", "columns"}


def test_a_field_the_plugin_does_not_grant_answers_403_naming_it(district: SyntheticDistrict) -> None:
    client = Client(sim_of(district, plugin=_plugin([("ATTENDANCE", "DCID"), ("ATTENDANCE", "STUDENTID")])))
    ok = client.get("/ws/schema/table/attendance", projection="dcid,studentid", pagesize=2)
    assert ok.status_code == 200
    refused = client.get("/ws/schema/table/attendance", projection="dcid,att_date")
    assert refused.status_code == 403 and refused.json()["errors"][0]["field"] == "attendance.att_date"
    assert client.get("/ws/schema/table/attendance/count", q="att_date=ge=2026-01-01").status_code == 403


def test_a_query_the_plugin_does_not_install_or_grant_is_refused(district: SyntheticDistrict) -> None:
    client = Client(sim_of(district, plugin=_plugin([("PERSON", "ID")])))
    assert client.post("/ws/schema/query/com.portico.sis.contacts.persons").status_code == 404
    client = Client(
        sim_of(district, plugin=_plugin([("PERSON", "ID")], queries=["com.portico.sis.contacts.persons"]))
    )
    body = client.post("/ws/schema/query/com.portico.sis.contacts.persons").json()
    assert body["message"] == "Validation Failed" and body["errors"][0]["code"] == "No access to the field"


def test_named_queries_answer_flattened_rows_counted_by_post_and_streamed_with_pagesize_0(
    client: Client,
) -> None:
    path = "/ws/schema/query/com.portico.sis.contacts.student_contacts"
    count = client.post(path + "/count").json()["count"]
    page = client.post(path, page=1, pagesize=10).json()
    row = page["record"][0]
    assert {"_name", "_id", "studentcontactassocid", "student_dcid", "person_id", "has_data_access"} <= set(
        row
    )
    assert len(client.post(path, pagesize=0).json()["record"]) == count
    assert "record" not in client.post(path, page=count + 1, pagesize=1).json()


def test_pages_are_generated_from_bounded_ranges_of_the_district(monkeypatch: pytest.MonkeyPatch) -> None:
    district = SyntheticDistrict(DistrictSpec(seed=2, schools=2, students=40))
    calls: list[tuple[str, int, int | None]] = []
    inner = district.iter

    def watched(kind: str, start: int = 0, stop: int | None = None) -> Iterator[Record]:
        calls.append((kind, start, stop))
        return inner(kind, start, stop)

    monkeypatch.setattr(district, "iter", watched)
    client = Client(sim_of(district, schema_page_cap=100))
    client.get("/ws/schema/table/attendance", page=3, pagesize=100)
    assert [c for c in calls if c[0] == "attendance"] == [("attendance", 200, 300)]


def test_changed_records_get_a_later_transaction_date_and_deleted_ones_leave_every_page(
    client: Client,
) -> None:
    sim = client.sim
    before = client.rows("cc", projection="dcid,transaction_date", pagesize=1000)
    latest = max(r["transaction_date"] for r in before)
    assert "+" not in latest and "T" not in latest  # server-local, no offset
    changed = sim.state.change("enrollment", fraction=0.05)
    gone = sim.state.delete("enrollment", ids=[before[0]["dcid"], before[-1]["dcid"]])
    fresh = client.rows("cc", projection="dcid", q=f"transaction_date=gt={latest}", pagesize=1000)
    assert {r["dcid"] for r in fresh} == set(changed) - set(gone)
    total = client.get("/ws/schema/table/cc/count").json()["count"]
    seen = []
    for page in range(1, total // 7 + 2):
        seen += [r["dcid"] for r in client.rows("cc", projection="dcid", page=page, pagesize=7)]
    assert len(seen) == len(set(seen)) == total == sim.district.count("enrollment") - 2
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
    state = SimState(sim_of(district).model)
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
    client = Client(sim_of(district))
    client.sim.faults.token_max_requests = 2
    assert [client.get("/ws/v1/metadata").status_code for _ in range(3)] == [200, 200, 401]


def test_a_plugin_the_server_would_refuse_is_refused() -> None:
    with pytest.raises(BadPlugin, match="zip"):
        read_plugin(b"not a zip")
    with pytest.raises(BadPlugin, match="root"):
        read_plugin(_zip({"portico/plugin.xml": b"<plugin/>"}))
    with pytest.raises(BadPlugin, match="publisher"):
        read_plugin(_zip({"plugin.xml": b'<plugin name="x"><oauth/></plugin>'}))
    with pytest.raises(BadPlugin, match="unrecognized"):
        read_plugin(_plugin([], extra={"queries_root/sub/x.named_queries.xml": b"<queries/>"}))


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def _plugin(
    fields: list[tuple[str, str]],
    queries: list[str] = (),
    extra: dict[str, bytes] | None = None,  # type: ignore[assignment]
) -> bytes:
    """A minimal installable plugin written by hand (not by the connector's generator)."""
    grants = "".join(f'<field table="{t}" field="{f}" access="ViewOnly"/>' for t, f in fields)
    xml = (f'<plugin xmlns="http://plugin.powerschool.pearson.com" name="Test" version="1.0"><oauth/>'
           f'<access_request>{grants}</access_request><publisher name="T"><contact email="t@example.org"/>'
           f"</publisher></plugin>").encode()  # fmt: skip
    named = "".join(f'<query name="{q}" coreTable="person" flattened="true"><columns/><sql>select 1</sql></query>'
                    for q in queries)  # fmt: skip
    files = {"plugin.xml": xml, **(extra or {})}
    if queries:
        files["queries_root/test.named_queries.xml"] = f"<queries>{named}</queries>".encode()
    return _zip(files)
