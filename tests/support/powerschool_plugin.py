"""The PowerSchool plugin in tests: the credentials a simulated server is given, which
fields a plugin zip grants, and the same plugin with one grant taken away."""

from __future__ import annotations

import io
import zipfile
from xml.etree import ElementTree as ET  # plugins the tests wrote themselves

NS = "{http://plugin.powerschool.pearson.com}"
CID, SECRET = "plugin-client", "plugin-secret-value"
EMAIL = "sis-team@example.org"


def granted(data: bytes) -> set[tuple[str, str]]:
    """The (table, field) pairs the plugin zip ``data`` asks for."""
    root = ET.fromstring(zipfile.ZipFile(io.BytesIO(data)).read("plugin.xml"))  # noqa: S314 - our own output
    return {(f.get("table", ""), f.get("field", "")) for f in root.iter(f"{NS}field")}


def without(data: bytes, table: str, field: str) -> bytes:
    """The same plugin with one field's grant removed."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name in src.namelist():
            body = src.read(name)
            if name == "plugin.xml":
                body = body.replace(
                    f'<field table="{table}" field="{field}" access="ViewOnly" />'.encode(), b""
                )
            z.writestr(name, body)
    return out.getvalue()
