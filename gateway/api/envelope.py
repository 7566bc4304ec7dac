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


class JsonResponse(Response):
    """A JSON answer that is never cached, its header list written out directly.

    The same status, headers (in the same order) and body as
    ``Response(body, status, media_type="application/json", headers=NO_STORE)``, without
    Starlette's header assembly from a mapping on every data request."""

    media_type = "application/json"

    def __init__(self, body: bytes, status: int = 200) -> None:
        self.status_code = status
        self.background = None
        self.body = body
        headers = [(b"cache-control", b"no-store")]
        if not (status < 200 or status in (204, 304)):
            headers.append((b"content-length", str(len(body)).encode()))
        headers.append((b"content-type", b"application/json"))
        self.raw_headers = headers


def json_response(body: Any, status: int = 200) -> Response:
    # orjson writes aware datetimes with their offset and dates as YYYY-MM-DD.
    return JsonResponse(orjson.dumps(body), status)


def envelope(data: Any, meta_: dict[str, Any]) -> Response:
    return json_response({"data": data, "meta": meta_})
