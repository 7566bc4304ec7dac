"""The shapes of PowerSchool response bodies, and the rows inside them.

* ``/ws/v1`` lists: ``{"schools": {"school": [...]}}``; a one-element list comes as an
  object, an empty one as ``""`` (or the key is missing); counts are
  ``{"resource": {"count": N}}``.
* ``/ws/schema/table``: ``{"name": ..., "record": [{"id": .., "tables": {"<table>": {..}}}]}``
  (``record`` is always a list, and may be missing on an empty page); counts are
  ``{"count": N}``. Null columns are left out of a row.
* ``/ws/schema/query`` (PowerQueries): flattened rows keyed by the query's column labels
  plus ``_name``/``_id``, or, for queries not flattened, the ``tables`` shape above.
  Labels may come back with their table prefix (``students.dcid``) or without it.
"""

from __future__ import annotations

from typing import Any


class BadShape(ValueError):
    """A body that is not the shape its endpoint sends."""


def v1_items(body: Any, plural: str, singular: str) -> list[dict[str, Any]]:
    block = body.get(plural) if isinstance(body, dict) else None
    if block in (None, ""):
        return []
    if not isinstance(block, dict):
        raise BadShape(plural)
    items = block.get(singular)
    if items in (None, ""):
        return []
    if isinstance(items, dict):
        return [items]
    if not isinstance(items, list):
        raise BadShape(singular)
    return items


def v1_count(body: Any) -> int:
    try:
        return int(body["resource"]["count"])
    except (KeyError, TypeError, ValueError):
        raise BadShape("count") from None


def schema_count(body: Any) -> int:
    try:
        return int(body["count"])
    except (KeyError, TypeError, ValueError):
        raise BadShape("count") from None


def _records(body: Any) -> list[Any]:
    if not isinstance(body, dict):
        raise BadShape("body")
    rows = body.get("record")
    if rows in (None, ""):
        return []
    if isinstance(rows, dict):  # tolerated although /ws/schema promises a list
        return [rows]
    if not isinstance(rows, list):
        raise BadShape("record")
    return rows


def table_rows(body: Any, table: str) -> list[dict[str, Any]]:
    """Column dicts of a ``/ws/schema/table`` page (a row that is not an object stays as it
    is, to be set aside by the normaliser)."""
    out = _records(body)
    for i, row in enumerate(out):  # in place: each wrapper is freed as its row is taken out
        tables = row.get("tables") if isinstance(row, dict) else None
        if isinstance(tables, dict):
            cols = tables.get(table)
            if cols is None:  # keyed by another spelling of the table name
                cols = next((v for k, v in tables.items() if k.lower() == table), None)
            out[i] = cols if isinstance(cols, dict) else {}
    return out


def query_rows(body: Any) -> list[dict[str, Any]]:
    """Rows of a PowerQuery page, flattened or not, keyed by plain lower-case labels."""
    out = _records(body)
    for i, row in enumerate(out):  # in place: a page is never held both as sent and as flattened
        if not isinstance(row, dict):
            continue
        tables = row.get("tables")
        flat: dict[str, Any] = {}
        if isinstance(tables, dict):
            for cols in tables.values():
                if isinstance(cols, dict):
                    flat.update(cols)
        else:
            flat = row
        out[i] = {k.rsplit(".", 1)[-1].lower(): v for k, v in flat.items() if not k.startswith("_")}
    return out
