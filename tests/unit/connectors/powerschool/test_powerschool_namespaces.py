"""The right child's record, every time: each PowerSchool key read in the namespace it belongs to.

On a PowerSchool server a child has a DCID (the /ws/v1 id), an ID (what CC, ATTENDANCE,
STOREDGRADES, PGFINALGRADES and LOG hold) and a student number, and the same number can
name two children in two namespaces. In the simulated district every child's ID is
another child's DCID, so a single join in the wrong namespace lands a record on the
wrong child; in the fixture district Bo's ID is Ada's DCID.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from config.secrets import SecretResolver
from connectors import registry
from connectors.base import Page
from connectors.powerschool.connector import PowerSchoolConnector
from simulators.district.synthetic import DistrictSpec, SyntheticDistrict
from simulators.powerschool.core import PowerSchoolSim
from simulators.powerschool.model import CONNECTOR_OPTIONS
from tests.support.powerschool import OPTIONS, FixtureServer

STREAMS = {
    "enrollments": "enrollment",
    "attendance": "attendance",
    "grades": "grade",
    "results": "result",
    "behaviour": "behaviour",
    "links": "link",
}


def connect(transport: httpx.BaseTransport, **options: Any) -> PowerSchoolConnector:
    ctx = registry.BuildContext(
        secrets=SecretResolver(env={"I": "id", "S": "secret"}), transport=transport, sleep=lambda s: None
    )
    opts = {
        "base_url": "https://sis.test",
        "client_id": {"env": "I"},
        "client_secret": {"env": "S"},
        **options,
    }
    connector = registry.build("powerschool", "sis", opts, ctx)
    assert isinstance(connector, PowerSchoolConnector)
    return connector


def owners(pages: list[Page]) -> dict[str, str]:
    """Record id -> the child it was published under (no set-asides allowed)."""
    out = {}
    for page in pages:
        assert page.rejected == []
        out.update({rec.source_id: rec.student_id for rec in page.records})
    return out


@pytest.fixture(scope="module")
def sim() -> PowerSchoolSim:
    district = SyntheticDistrict(DistrictSpec(seed=23, schools=2, students=60))
    return PowerSchoolSim(district, client_id="id", client_secret="secret", schema_page_cap=250)


def test_the_simulated_district_sets_the_trap_for_every_child(sim: PowerSchoolSim) -> None:
    model = sim.model
    dcids = [s.source_id for s in sim.district.iter("student")]
    ids = [model.students_id(d) for d in dcids]
    numbers = [model.student_number[d] for d in dcids]
    assert all(i != d for i, d in zip(ids, dcids, strict=True))  # no child's ID is its own DCID
    assert set(ids) == set(dcids)  # every child's ID is another child's DCID
    assert not set(numbers) & set(dcids)
    schools = [s.source_id for s in sim.district.iter("school")]
    assert {model.school_number[s] for s in schools} == set(schools) and all(
        model.school_number[s] != s for s in schools
    )


@pytest.mark.parametrize("stream", list(STREAMS))
def test_every_record_lands_on_the_child_it_belongs_to(sim: PowerSchoolSim, stream: str) -> None:
    got = owners(list(connect(httpx.MockTransport(sim.handle), **CONNECTOR_OPTIONS).read(stream, None)))
    want = {rec.source_id: rec.student_id for rec in sim.expected(STREAMS[stream])}
    assert len(got) == len(want) > 0
    wrong = sorted(k for k in want if got.get(k) != want[k])
    assert wrong == [], f"{len(wrong)} {stream} records published under another child"


def test_every_student_and_section_references_the_right_school(sim: PowerSchoolSim) -> None:
    c = connect(httpx.MockTransport(sim.handle), **CONNECTOR_OPTIONS)
    for stream, kind in (("students", "student"), ("sections", "section")):
        got = {rec.source_id: rec.school_id for page in c.read(stream, None) for rec in page.records}
        assert got == {rec.source_id: rec.school_id for rec in sim.expected(kind)}, stream
    sections = {rec.source_id: rec.section_id for page in c.read("enrollments", None) for rec in page.records}
    assert sections == {rec.source_id: rec.section_id for rec in sim.expected("enrollment")}


def test_in_the_fixture_district_each_record_names_ada_or_bo_by_the_namespace_of_its_table() -> None:
    ada, bo = "507", "9913"  # Bo's STUDENTS.ID is 507: Ada's DCID
    c = connect(FixtureServer().transport(), **OPTIONS)
    assert owners(list(c.read("attendance", None))) == {"91001": bo, "91002": ada, "91003": ada}
    enrolments = {rec.source_id: (rec.student_id, rec.section_id) for p in c.read("enrollments", None)
                  for rec in p.records}  # fmt: skip
    # CC.SECTIONID is SECTIONS.ID (negated when dropped), not the DCID.
    assert enrolments == {"80001": (ada, "4401"), "80002": (bo, "4402")}
    assert owners(list(c.read("grades", None))) == {
        "storedgrades:66001": ada, "pgfinalgrades:67001": ada, "pgfinalgrades:67002": ada,
    }  # fmt: skip
    # ASSIGNMENTSCORE.STUDENTSDCID and STUDENTCONTACTASSOC.STUDENTDCID are DCIDs: 507 is Ada here.
    assert owners(list(c.read("results", None))) == {"600001": ada, "600002": bo, "600003": ada}
    assert owners(list(c.read("behaviour", None))) == {"7001": bo, "7002": ada}
    assert owners(list(c.read("links", None))) == {"12001": ada, "12002": ada}
