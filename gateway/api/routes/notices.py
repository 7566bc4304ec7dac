"""``GET /v1/notices``: notices for the caller's students' schools, year groups and classes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import Query
from starlette.responses import Response

from cache.read import queries
from cache.read.visibility import rule_for, window
from gateway.api import present
from gateway.api.deps import ViewDep
from gateway.api.envelope import meta
from gateway.api.params import (
    decode_cursor,
    invalid,
    is_flag,
    is_ref,
    is_stamp,
    one_page,
    page_limit,
    parse_date,
)
from gateway.api.problems import not_found
from gateway.api.routes.students import respond
from gateway.api.routing import DataRouter

router = DataRouter(prefix="/v1", tags=["notices"])


def _triple(parts: tuple[str, ...] | None) -> tuple[str, str, str] | None:
    return None if parts is None else (parts[0], parts[1], parts[2])


@router.get("/notices", on_loop=True)
async def list_notices(
    view: ViewDep,
    from_: str | None = Query(default=None, alias="from"),
    limit: int | None = None,
    cursor: str | None = None,
) -> Response:
    """Current notices first (newest first), then those that ended on or after ``from``."""
    app = view.app
    if not view.allows("notices"):  # a family token not given notices: the uniform 404
        view.denied()
        await view.settle()
        raise not_found()
    n = page_limit(limit, app.config.api)
    since = parse_date(from_, "from") if from_ else view.today - dt.timedelta(days=30)
    if view.today - since > app.config.api.max_range:
        raise invalid("from", f"the range may span at most {app.config.api.max_range.days} days")
    after = _triple(decode_cursor(cursor, is_flag, is_stamp, is_ref))
    # Notices reach whole schools and the district: the window is the district's.
    shown = window(rule_for(app.config.visibility, "notice"), view.now, app.tz)
    students = await view.reader.astudents(view.principal, view.published, view.today)
    rows: list[tuple[str, bool, dict[str, Any]]] = []
    if students:
        rows = await queries.anotices(
            view.reader,
            view.principal.source,
            view.published,
            await queries.aaudiences(view.reader, students, view.today),
            now=shown.visible_before,
            today=view.today,
            since=since,
            after=after,
            limit=n + 1,
        )
    rows, next_cursor = one_page(rows, n, lambda row: (
        str(int(row[1])), dt.datetime.fromisoformat(row[2]["publish_from"]).astimezone(dt.UTC).isoformat(), row[0]
    ))  # fmt: skip
    data = [present.notice(ref, cur, body) for ref, cur, body in rows]
    return await respond(view, data, meta(app.config, view.state, shown.lag, next_cursor))
