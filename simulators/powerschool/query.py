"""PowerSchool's FIQL-like ``q=`` filters, as the simulator parses and applies them.

``;`` joins clauses (AND); operators ``==``, ``!=``, ``=gt=``, ``=ge=``, ``=lt=``, ``=le=``
and ``=in=(a,b)``. Column names are case-insensitive. Values compare as numbers when both
sides are numbers, as instants when both are dates or timestamps (an offset-less
timestamp is the server's local time), otherwise as text.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

Clause = tuple[str, str, str]  # field (lower case), operator, value
_CLAUSE = re.compile(r"^([A-Za-z0-9_.]+)(==|!=|=(?:eq|ne|gt|ge|lt|le|in)=)(.*)$")


class BadQuery(ValueError):
    """A ``q=`` the simulator cannot parse; answered with 400."""


def parse_q(q: str | None) -> tuple[Clause, ...]:
    """PowerSchool's FIQL-like filter: ``a=ge=1;b==x;c=in=(1,2)`` (clauses ANDed)."""
    if not q:
        return ()
    clauses = []
    for part in q.split(";"):
        m = _CLAUSE.match(part.strip())
        if not m:
            raise BadQuery(part)
        op = {"==": "eq", "!=": "ne"}.get(m.group(2)) or m.group(2).strip("=")
        clauses.append((m.group(1).lower(), op, m.group(3)))
    return tuple(clauses)


def txn_instant(value: str) -> dt.datetime:
    """A timestamp as a naive local instant (an aware one is taken as UTC and made naive)."""
    when = dt.datetime.fromisoformat(value.strip())
    return when.astimezone(dt.UTC).replace(tzinfo=None) if when.tzinfo else when


def comparable(value: Any) -> tuple[int, Any]:
    """A sort key so that numbers, dates and text each compare within their own kind."""
    s = str(value).strip()
    if s.lstrip("-").isdigit():
        return (0, int(s))
    if len(s) >= 10 and s[4:5] == "-" and s[7:8] == "-":
        try:
            return (1, txn_instant(s) if len(s) > 10 else dt.datetime.fromisoformat(s))
        except ValueError:
            pass
    return (2, s)


def holds(have: Any, op: str, want: str) -> bool:
    if op == "in":
        return str(have) in want.strip("()").split(",")
    a, b = comparable(have), comparable(want)
    if a[0] != b[0]:
        return op == "ne"
    return {"eq": a == b, "ne": a != b, "gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op]


def matches(cols: dict[str, Any], clauses: Sequence[Clause]) -> bool:
    for field, op, want in clauses:
        have = cols.get(field)
        if have is None:
            return False  # null compares false, as in SQL
        if not holds(have, op, want):
            return False
    return True
