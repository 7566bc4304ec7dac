"""The PowerSchool plugin a district installs to let Portico read: generated, never hand-kept.

A plugin is a zip with ``plugin.xml`` at its root (``<oauth/>`` for client credentials, an
``<access_request>`` with one ``<field table=".." field=".." access="ViewOnly"/>`` per
column, and the required ``<publisher>``) and ``queries_root/*.named_queries.xml`` holding
the named PowerQueries. Everything in it comes from :mod:`connectors.powerschool.declare`
through :func:`connectors.powerschool.streams.plan`: the access request is exactly what the
configured connector reads, so a field it does not ask for is never requested, and a field
it asks for is always granted once the plugin is installed.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

from connectors.powerschool.declare import Plan, Query, access_request
from connectors.powerschool.streams import plan

if TYPE_CHECKING:
    from connectors.powerschool.options import Options

NAMESPACE = "http://plugin.powerschool.pearson.com"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NAME = "Portico Parent Gateway"  # at most 40 characters (plugin.xsd)
# Raise on every change to what the plugin reads: PowerSchool refuses an update whose
# version is not higher than the installed one.
VERSION = "2.0.0"
QUERIES_FILE = "queries_root/com.portico.sis.named_queries.xml"


def plugin_xml(plan: Plan, *, publisher: str, email: str, version: str = VERSION) -> bytes:
    """``plugin.xml``: OAuth client credentials and the access request of ``plan``."""
    if not email or len(email) > 40 or "@" not in email:
        raise ValueError("the publisher's contact email is required and at most 40 characters")
    if not publisher or len(publisher) > 100:
        raise ValueError("the publisher's name is required and at most 100 characters")
    ET.register_namespace("", NAMESPACE)
    ET.register_namespace("xsi", XSI)
    root = ET.Element(
        f"{{{NAMESPACE}}}plugin",
        {
            f"{{{XSI}}}schemaLocation": f"{NAMESPACE} plugin.xsd",
            "name": NAME,
            "version": version,
            "description": "Read-only parent portal: reads only the fields listed here, never writes",
        },
    )
    ET.SubElement(root, f"{{{NAMESPACE}}}oauth")
    request = ET.SubElement(root, f"{{{NAMESPACE}}}access_request")
    for table, field in access_request(plan):
        if len(table) > 30 or len(field) > 30:
            raise ValueError(f"{table}.{field}: table and field names are at most 30 characters")
        ET.SubElement(
            request, f"{{{NAMESPACE}}}field", {"table": table, "field": field, "access": "ViewOnly"}
        )
    pub = ET.SubElement(root, f"{{{NAMESPACE}}}publisher", {"name": publisher})
    ET.SubElement(pub, f"{{{NAMESPACE}}}contact", {"email": email})
    ET.indent(root)
    body: bytes = ET.tostring(root, encoding="utf-8")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body + b"\n"


def queries_xml(queries: tuple[Query, ...]) -> bytes:
    """``queries_root/*.named_queries.xml``: each query flattened, its columns in SQL order."""
    root = ET.Element("queries")
    for q in queries:
        el = ET.SubElement(root, "query", {"name": q.name, "coreTable": q.core_table, "flattened": "true"})
        ET.SubElement(el, "description").text = q.description
        columns = ET.SubElement(el, "columns")
        for column, label in q.columns:
            ET.SubElement(columns, "column", {"column": column}).text = label
        ET.SubElement(el, "sql").text = q.sql
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode")
    # The SQL is kept verbatim in CDATA, as PowerSchool's own plugins write it.
    for q in queries:
        escaped = ET.tostring(_text_element(q.sql), encoding="unicode")[len("<sql>") : -len("</sql>")]
        text = text.replace(f"<sql>{escaped}</sql>", f"<sql><![CDATA[{q.sql}]]></sql>", 1)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n").encode()


def _text_element(value: str) -> ET.Element:
    el = ET.Element("sql")
    el.text = value
    return el


def plugin_zip(plan: Plan, *, publisher: str, email: str, version: str = VERSION) -> bytes:
    """The installable zip: ``plugin.xml`` at the root, the named queries in ``queries_root/``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("plugin.xml", plugin_xml(plan, publisher=publisher, email=email, version=version))
        if plan.queries:
            z.writestr(QUERIES_FILE, queries_xml(plan.queries))
    return buf.getvalue()


@dataclass(frozen=True)
class Summary:
    tables: int
    fields: int
    queries: int


def for_options(
    options: Options, *, publisher: str, email: str, version: str = VERSION
) -> tuple[bytes, Summary]:
    """The plugin zip for a configured connector (its streams, contacts layout, tables)."""
    p = plan(options.choices(), options.streams)
    fields = access_request(p)
    summary = Summary(len({t for t, _ in fields}), len(fields), len(p.queries))
    return plugin_zip(p, publisher=publisher, email=email, version=version), summary
