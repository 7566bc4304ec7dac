"""The rules every read of the published snapshot shares, each written once.

SQL fragments over a ``record`` row aliased ``{t}`` (``.format(t=...)``), with named
parameters. Raw-SQL readers splice them in; SQLAlchemy Core readers use
:func:`current_in`, built from the same fragment.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, text

# Snapshot currency is defined with the versioning it reads (cache.tables.records).
from cache.tables.records import CURRENT

__all__ = ["CURRENT", "ON_ROLL", "current_as", "current_in"]

# On roll on ``:today``: admitted (or no admission date) and not yet left (a leaving
# date in the future means still on roll).
ON_ROLL = "({t}.active_from IS NULL OR {t}.active_from <= :today) AND ({t}.active_to IS NULL OR {t}.active_to > :today)"


def current_in(run: int) -> ColumnElement[bool]:
    """:data:`CURRENT` for Core queries over the unaliased ``record`` table."""
    return text(CURRENT.format(t="record")).bindparams(p=run)  # type: ignore[return-value]


def current_as(t: str, param: str) -> str:
    """:data:`CURRENT` over row ``t`` with the published run bound as ``:param`` (not ``:p``):
    for a query over several sources, each with its own published run."""
    return CURRENT.format(t=t).replace(":p", f":{param}")
