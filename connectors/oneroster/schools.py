"""OneRoster orgs and academic sessions to schools, with the school year and term titles."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from config.errors import RecordError
from connectors import records as rec
from connectors.oneroster.cells import Bad, err, parse_date
from connectors.oneroster.options import Options
from connectors.oneroster.tables import Row, Tables


def sessions_by_id(
    tables: Tables, errors: dict[str, list[RecordError]]
) -> dict[str, tuple[Row, dt.date, dt.date]]:
    found = {}
    for where, row in tables.rows("academicSessions") if tables.supplied("academicSessions") else ():
        try:
            start, end = parse_date(row["startDate"], "startDate"), parse_date(row["endDate"], "endDate")
        except Bad as bad:
            err(errors, "school", bad.reason, where, bad.column)
            continue
        if start is not None and end is not None:
            found[row["sourcedId"]] = (row, start, end)
    return found


def schools_of(
    tables: Tables, options: Options, today: dt.date, sessions: Iterable[tuple[Row, dt.date, dt.date]]
) -> list[rec.School]:
    """Each school org served (options.schools, or every org of type school)."""
    year = next(
        ((s, e) for row, s, e in sessions if row["type"] == "schoolYear" and s <= today < e),
        None,
    )
    first = dt.date(today.year if today.month >= 9 else today.year - 1, 9, 1)
    start = options.year_start_date or (year[0] if year else first)
    # endDate is exclusive in the binding: the school year's last day is the day before.
    end = options.year_end_date or (
        year[1] - dt.timedelta(days=1) if year else dt.date(first.year + 1, 8, 31)
    )
    out = []
    for _, row in tables.rows("orgs"):
        if row["type"] != "school" or (options.schools and row["sourcedId"] not in options.schools):
            continue
        out.append(
            rec.School(
                source_id=row["sourcedId"],
                name=row["name"],
                timezone=options.timezone,
                year_start_date=start,
                year_end_date=end,
            )  # fmt: skip
        )
    return out
