"""``GET /metrics``: Prometheus text for operators, never for parents.

Reachable with ``Authorization: Bearer <api.metrics.token>`` when a token is
configured; without one, only from the machine itself (loopback), so a district
exposing the API does not expose sync health with it. Answers 404 to everyone else,
like any path that is not theirs.
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response

router = APIRouter(tags=["operators"], include_in_schema=False)


def _allowed(request: Request, token: str | None) -> bool:
    if token is not None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    app = request.app.state.portico
    settings = app.config.api.metrics
    # Refused exactly as an address nothing answers (the portal's page when it is mounted).
    if not settings.enabled:
        raise HTTPException(404)
    registry, token = app.metrics, app.metrics_token
    if registry is None or not _allowed(request, token):
        raise HTTPException(404)
    # The collector reads the database on each scrape: off the event loop.
    body = await run_in_threadpool(generate_latest, registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
