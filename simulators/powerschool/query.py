"""PowerSchool's FIQL-like ``q=`` filters, as the simulator parses and applies them."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

Clause = tuple[str, str, str]  # field, operator, value
_CLAUSE = re.compile(r"^([A-Za-z0-9_.]+)(==|=(?:eq|ne|gt|ge|lt|le|in)=)(.*)$")


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
        op = "eq" if m.group(2) == "==" else m.group(2).strip("=")
        clauses.append((m.group(1), op, m.group(3)))
    return tuple(clauses)


def txn_instant(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def matches(cols: dict[str, Any], clauses: Sequence[Clause]) -> bool:
    for field, op, want in clauses:
        have = cols.get(field)
        if have is None:
            return False
        if op == "in":
            if have not in want.strip("()").split(","):
                return False
            continue
        a: Any = have
        b: Any = want
        if field == "transaction_date":
            a, b = txn_instant(have), txn_instant(want)
        ok = {"eq": a == b, "ne": a != b, "gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op]
        if not ok:
            return False
    return True
