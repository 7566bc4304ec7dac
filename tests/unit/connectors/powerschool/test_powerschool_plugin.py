"""The plugin a district installs, generated from what the connector reads, and held to it."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree as ET  # plugins this test wrote itself

import httpx
import pytest

from config.secrets import SecretResolver
from connectors import registry
from connectors.powerschool import declare, plugin, streams
from connectors.powerschool.connector import PowerSchoolConnector
from connectors.powerschool.options import Options
from simulators.district.synthetic import DistrictSpec, SyntheticDistrict
from simulators.powerschool.core import PowerSchoolSim
from simulators.powerschool.model import CONNECTOR_OPTIONS
from tests.support.powerschool_plugin import CID, EMAIL, NS, SECRET, granted, without


@pytest.fixture(scope="module")
def district() -> SyntheticDistrict:
    return SyntheticDistrict(DistrictSpec(seed=5, schools=2, students=30))


def options(**extra: Any) -> dict[str, Any]:
    return {"base_url": "https://sis.test", "client_id": {"env": "I"}, "client_secret": {"env": "S"},
            **CONNECTOR_OPTIONS, **extra}  # fmt: skip


def zip_for(**extra: Any) -> bytes:
    data, _ = plugin.for_options(
        Options.model_validate(options(**extra)), publisher="Test District", email=EMAIL
    )
    return data


def connect(sim: PowerSchoolSim, **extra: Any) -> PowerSchoolConnector:
    ctx = registry.BuildContext(secrets=SecretResolver(env={"I": CID, "S": SECRET}),
                                transport=httpx.MockTransport(sim.handle), sleep=lambda s: None)  # fmt: skip
    c = registry.build("powerschool", "sis", options(**extra), ctx)
    assert isinstance(c, PowerSchoolConnector)
    return c


def every_read(c: PowerSchoolConnector) -> Iterator[Any]:
    """Every request kind a run makes: full reads, key-only re-reads and incremental reads."""
    states = {}
    for info in c.streams():
        pages = list(c.read(info.name, None))
        assert all(p.rejected == [] for p in pages), info.name
        states[info.name] = pages[-1].cursor
        yield from c.read_keys(info.name)
    for info in c.streams():
        if info.incremental:
            yield from c.read(info.name, states[info.name])


def test_the_zip_has_plugin_xml_at_its_root_with_oauth_a_viewonly_access_request_and_a_publisher() -> None:
    z = zipfile.ZipFile(io.BytesIO(zip_for()))
    assert sorted(z.namelist()) == ["plugin.xml", plugin.QUERIES_FILE]
    root = ET.fromstring(z.read("plugin.xml"))  # noqa: S314 - our own output
    assert (
        root.tag == f"{NS}plugin"
        and len(root.get("name", "")) <= 40
        and root.get("version") == plugin.VERSION
    )
    assert [child.tag.removeprefix(NS) for child in root] == ["oauth", "access_request", "publisher"]
    fields = list(root.iter(f"{NS}field"))
    assert fields and all(f.get("access") == "ViewOnly" for f in fields)
    assert all(len(f.get("table", "")) <= 30 and len(f.get("field", "")) <= 30 for f in fields)
    assert root.find(f"{NS}publisher/{NS}contact").get("email") == EMAIL  # type: ignore[union-attr]


def test_the_named_queries_declare_their_columns_in_sql_order_and_every_column_they_touch_is_granted() -> (
    None
):
    data = zip_for()
    z = zipfile.ZipFile(io.BytesIO(data))
    queries = {q.get("name"): q for q in ET.fromstring(z.read(plugin.QUERIES_FILE)).iter("query")}  # noqa: S314
    assert set(queries) == {q.name for q in declare.QUERIES}
    grants = granted(data)
    for q in declare.QUERIES:
        el = queries[q.name]
        assert el.get("flattened") == "true" and el.get("coreTable") == q.core_table
        assert [c.text for c in el.iter("column")] == list(q.labels())
        assert el.findtext("sql", "").strip() == q.sql.strip()
        assert {(t.upper(), c.upper()) for t, c in q.fields()} <= grants, q.name


def test_query_sql_referring_to_an_undeclared_alias_is_refused() -> None:
    with pytest.raises(ValueError, match="alias"):
        declare.sql_fields("SELECT x.id FROM students s")


def test_the_connector_never_asks_for_a_field_the_plugin_does_not_request_and_requests_none_it_never_reads(
    district: SyntheticDistrict,
) -> None:
    data = zip_for()
    sim = PowerSchoolSim(district, client_id=CID, client_secret=SECRET, plugin=data, schema_page_cap=100)
    c = connect(sim)
    c.sent = []
    for _ in every_read(c):
        pass
    asked: set[tuple[str, str]] = set()
    called: set[str] = set()
    for sent in c.sent:
        if sent.path.startswith("/ws/schema/table/"):
            table = sent.path.split("/")[4].upper()
            columns = sent.params.get("projection", "").split(",")
            filters = [clause.split("=")[0].rstrip("!") for clause in sent.params.get("q", "").split(";")]
            asked |= {(table, col.upper()) for col in [*columns, *filters] if col}
        elif sent.path.startswith("/ws/schema/query/"):
            called.add(sent.path.split("/")[4])
    queries = [q for q in declare.QUERIES if q.name in called]
    used = asked | {(t.upper(), f.upper()) for q in queries for t, f in q.fields()}
    used |= {("SCHOOLS", f.upper()) for f in declare.V1_SCHOOLS.columns}  # the /ws/v1 school list
    assert used == granted(data)
    assert sim.requests > 50


def test_with_the_plugin_installed_every_stream_reads_and_without_one_grant_the_refusal_names_it(
    district: SyntheticDistrict,
) -> None:
    data = zip_for()
    sim = PowerSchoolSim(
        district, client_id=CID, client_secret=SECRET, plugin=without(data, "PERIOD", "ABBREVIATION")
    )
    from connectors.powerschool.errors import FieldRefusedError

    with pytest.raises(FieldRefusedError, match="PERIOD.ABBREVIATION"):
        list(connect(sim).read("attendance", None))
    legacy = zip_for(contacts="students")
    assert ("STUDENTS", "GUARDIANEMAIL") in granted(legacy) and ("PERSON", "ID") not in granted(legacy)
    assert ("STUDENTS", "GUARDIANEMAIL") not in granted(data)
    assert ("LOG", "LOGTYPEID") not in granted(zip_for(log_types={}))


def test_the_plan_for_a_configuration_requests_only_its_streams() -> None:
    only = streams.plan(
        Options.model_validate(options(streams=["schools", "students"])).choices(), ["schools", "students"]
    )
    tables = {t for t, _ in declare.access_request(only)}
    # The school list, the terms (school years), the students and the query of their own emails.
    assert tables == {"SCHOOLS", "TERMS", "STUDENTS", "PERSONEMAILADDRESSASSOC", "EMAILADDRESS"}
