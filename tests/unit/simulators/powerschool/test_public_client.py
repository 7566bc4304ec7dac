"""The public ``powerschool`` client from PyPI (4.0.1, a test dependency) drives the simulator.

A client written by others, against real servers, signs in, reads the metadata, counts and
pages ``students``, ``cc`` and ``attendance`` with the projection it builds from
``/metadata?expansions=access``: the simulator must answer it as a server does.
"""

from __future__ import annotations

from collections.abc import Iterator

import powerschool
import pytest

from simulators.district.synthetic import DistrictSpec, SyntheticDistrict
from simulators.powerschool.core import PowerSchoolSim
from simulators.powerschool.server import make_app, run_in_thread

CID, SECRET = "client-id", "client-secret-value"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, PowerSchoolSim]]:
    district = SyntheticDistrict(DistrictSpec(seed=17, schools=2, students=30))
    app = make_app(district, client_id=CID, client_secret=SECRET, schema_page_cap=40)
    base_url, stop = run_in_thread(app)
    yield base_url, app.state.sim
    stop()


@pytest.fixture
def client(served: tuple[str, PowerSchoolSim], monkeypatch: pytest.MonkeyPatch) -> object:
    # The client insists on https; the simulator is plain http on loopback.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    ps = powerschool.PowerSchool("127.0.0.1")
    ps.base_url = served[0]
    ps.authorize((CID, SECRET))
    return ps


def test_it_signs_in_and_reads_integer_page_caps(client: object) -> None:
    assert client.metadata.schema_table_query_max_page_size == 40  # type: ignore[attr-defined]


def test_it_counts_and_pages_students_with_its_own_projection(
    client: object, served: tuple[str, PowerSchoolSim]
) -> None:
    sim = served[1]
    students = client.get_schema_table("students")  # type: ignore[attr-defined]
    assert students.count() == len(sim.expected("student"))
    rows = students.query()
    assert len(rows) == len(sim.expected("student"))
    assert {r["dcid"] for r in rows} == {s.source_id for s in sim.expected("student")}
    assert all(r["id"] != r["dcid"] for r in rows)


def test_it_pages_cc_and_attendance_across_many_pages(
    client: object, served: tuple[str, PowerSchoolSim]
) -> None:
    sim = served[1]
    cc = client.get_schema_table("cc").query(q="dateleft=ge=2000-01-01")  # type: ignore[attr-defined]
    assert len(cc) == len(sim.expected("enrollment")) > 40
    attendance = client.get_schema_table("attendance")  # type: ignore[attr-defined]
    assert attendance.count() == len(sim.expected("attendance"))
    rows = attendance.query(projection="dcid,studentid,att_date,att_mode_code,attendance_codeid")
    assert len({r["dcid"] for r in rows}) == len(rows) == len(sim.expected("attendance"))
    assert {r["att_mode_code"] for r in rows} == {"ATT_ModeDaily"}
