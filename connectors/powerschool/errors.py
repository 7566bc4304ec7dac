"""What a PowerSchool server's refusals mean, named by table and field.

A server answers ``400`` for a column that does not exist and ``403`` for one the plugin
was not granted; a PowerQuery touching an ungranted column answers ``Validation Failed``
with ``errors[].field`` naming it. The wording differs between servers and releases, so
a refusal is matched on its status and on which of the requested fields its body names,
never on a sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import orjson

from config.errors import SourceAuthError, SourceDataError

PLUGIN_HINT = "regenerate the plugin with `portico powerschool plugin` and have the district install it"


class FieldRefusedError(SourceAuthError):
    """The server refused a field Portico reads: the district must grant it in the plugin.

    An operator action, like a credential problem: the run fails and counts towards the
    circuit breaker. The message names the table and field and what to grant.
    """

    def __init__(self, endpoint: str, table: str, field: str, status: int) -> None:
        self.table, self.field, self.status = table.upper(), field.upper(), status
        super().__init__(
            f"{endpoint} answered {status} for {self.table}.{self.field}: the district must grant "
            f"field {self.field} of table {self.table} (ViewOnly) to the Portico plugin; {PLUGIN_HINT}"
        )


class NotInstalledError(SourceAuthError):
    """A table or named query the connector reads is not on the server."""


def body_text(content: bytes) -> str:
    """The refusal's body as lower-case text (JSON decoded where it is JSON)."""
    try:
        return orjson.dumps(orjson.loads(content)).decode().lower()
    except orjson.JSONDecodeError:
        return content[:4000].decode("utf-8", "replace").lower()


def named_field(text: str, table: str, fields: Iterable[str]) -> str | None:
    """Which of ``fields`` the refusal names (as ``field`` or ``table.field``), if any.

    Longer names are tried first so ``teacher`` is not found inside ``teacherid``."""
    for name in sorted(set(fields), key=len, reverse=True):
        if re.search(rf"(?<![a-z0-9_]){re.escape(name.lower())}(?![a-z0-9_])", text):
            return name
    return None


def query_field(text: str) -> tuple[str, str] | None:
    """The ``table.column`` a PowerQuery validation error names in ``errors[].field``."""
    try:
        body: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    errors = body.get("errors") if isinstance(body, dict) else None
    for err in errors if isinstance(errors, list) else []:
        value = err.get("field") if isinstance(err, dict) else None
        if isinstance(value, str) and "." in value:
            table, _, column = value.rpartition(".")
            return table.rsplit(".", 1)[-1], column
    return None


def refused(endpoint: str, status: int) -> SourceDataError:
    return SourceDataError(f"{endpoint} answered {status} naming none of the fields Portico asked for")
