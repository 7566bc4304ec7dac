"""The ``{data, meta}`` envelope and JSON responses that are never cached."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import orjson
from pydantic import TypeAdapter
from starlette.responses import Response

from cache.snapshots.runs import is_stale
from cache.tables.records import SourceState
from config.settings import PorticoConfig

NO_STORE = {"Cache-Control": "no-store"}
_duration = TypeAdapter(dt.timedelta)


@functools.lru_cache(maxsize=64)
def iso_duration(td: dt.timedelta) -> str:
    # A handful of configured lags, asked for on every data request.
    return str(_duration.dump_python(td, mode="json"))


def meta(
    config: PorticoConfig, state: SourceState, lag: dt.timedelta, next_cursor: str | None = None
) -> dict[str, Any]:
    return {
        "as_of": state.as_of,
        "synced_at": state.synced_at,
        "lag": iso_duration(lag),
        "stale": is_stale(state, config.cache.stale_after),
        "next_cursor": next_cursor,
    }


def json_response(body: Any, status: int = 200) -> Response:
    # orjson writes aware datetimes with their offset and dates as YYYY-MM-DD.
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=NO_STORE)


def envelope(data: Any, meta_: dict[str, Any]) -> Response:
    return json_response({"data": data, "meta": meta_})
