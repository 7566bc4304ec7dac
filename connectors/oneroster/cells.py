"""OneRoster cells: dates, booleans, lists in one cell, typed ids; errors name the column only."""

from __future__ import annotations

import datetime as dt
import re

from config.errors import RecordError

_TYPED = re.compile(r"\{([^:}]+):([^}]+)\}")


def err(errors: dict[str, list[RecordError]], stream: str, reason: str, where: str, column: str = "") -> None:
    """A row set aside, filed under the stream whose records it would have fed."""
    errors.setdefault(stream, []).append(RecordError(reason, where=where, field=column))


class Bad(Exception):
    """A cell that cannot be read: carries the column, never the value."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column, self.reason = column, reason


def parse_date(cell: str, column: str) -> dt.date | None:
    """``YYYY-MM-DD`` (a DateTime's date part is taken too: some producers write one)."""
    s = cell.strip()
    if not s:
        return None
    try:
        return dt.date.fromisoformat(s[:10])
    except ValueError:
        raise Bad(column, "not a date (YYYY-MM-DD)") from None


def parse_bool(cell: str, column: str) -> bool | None:
    s = cell.strip().casefold()
    if not s:
        return None
    if s in ("true", "false"):
        return s == "true"
    raise Bad(column, "not true or false")


def items(cell: str) -> list[str]:
    """A list held in one cell: ``"a,b"`` (quoting already undone by the CSV reader)."""
    return [i.strip() for i in cell.split(",") if i.strip()]


def typed_ids(cell: str) -> dict[str, str]:
    """``{UPN:A123},{LDAP:x}`` -> ``{"UPN": "A123", "LDAP": "x"}``."""
    return {t.strip(): v.strip() for t, v in _TYPED.findall(cell)}
