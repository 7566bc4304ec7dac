"""What an installed plugin grants: read from the plugin zip a district installs.

The server answers only for the fields a plugin's ``<access_request>`` lists, and runs
only the named queries its ``queries_root`` holds. The simulator reads the same zip file
format (it shares no code with whatever wrote it): ``plugin.xml`` at the root, and
``queries_root/*.named_queries.xml``.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET


class BadPlugin(ValueError):
    """A zip a PowerSchool server would refuse to install."""


@dataclass(frozen=True)
class Grants:
    """Granted ``(table, field)`` pairs (lower case) and installed query names; ``everything``
    stands for a server where the integration may read all (no plugin given)."""

    fields: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    queries: frozenset[str] = field(default_factory=frozenset)
    everything: bool = False

    def allows(self, table: str, column: str) -> bool:
        return self.everything or (table.lower(), column.lower()) in self.fields

    def installed(self, query: str) -> bool:
        return self.everything or query in self.queries


ALL = Grants(everything=True)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def read_plugin(data: bytes) -> Grants:
    """The grants of a plugin zip, checked as an install would check it."""
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise BadPlugin("not a zip file") from exc
    names = z.namelist()
    if "plugin.xml" not in names:
        raise BadPlugin("plugin.xml must be at the root of the zip")
    for name in names:
        if name != "plugin.xml" and not (name.startswith("queries_root/") and name.count("/") == 1):
            raise BadPlugin(f"{name}: unrecognized file in the plugin")
    # A plugin the operator hands the simulator (trusted, bounded by the zip); expat refuses
    # entity-expansion bombs since 2.4.1.
    root = ET.fromstring(z.read("plugin.xml"))  # noqa: S314
    if _local(root.tag) != "plugin" or not root.get("name") or len(root.get("name", "")) > 40:
        raise BadPlugin("plugin.xml: the root must be <plugin> with a name of at most 40 characters")
    children = {_local(c.tag): c for c in root}
    if "publisher" not in children or children["publisher"].find("./*") is None:
        raise BadPlugin("plugin.xml: a <publisher> with a <contact email=...> is required")
    if "oauth" not in children:
        raise BadPlugin("plugin.xml: <oauth/> is needed for client credentials")
    fields: set[tuple[str, str]] = set()
    request = children.get("access_request")
    for el in request if request is not None else []:
        table, column, access = el.get("table", ""), el.get("field", ""), el.get("access", "")
        if (
            not table
            or not column
            or len(table) > 30
            or len(column) > 30
            or access not in ("ViewOnly", "FullAccess")
        ):
            raise BadPlugin(
                "plugin.xml: each <field> needs table and field (at most 30) and access ViewOnly|FullAccess"
            )
        fields.add((table.lower(), column.lower()))
    queries: set[str] = set()
    for name in names:
        if name.startswith("queries_root/"):
            if not name.endswith(".named_queries.xml"):
                raise BadPlugin(f"{name}: files in queries_root end in .named_queries.xml")
            for q in ET.fromstring(z.read(name)).iter("query"):  # noqa: S314
                if not q.get("name") or q.find("sql") is None or q.find("columns") is None:
                    raise BadPlugin(f"{name}: each <query> needs a name, <columns> and <sql>")
                queries.add(q.get("name", ""))
    return Grants(frozenset(fields), frozenset(queries))
