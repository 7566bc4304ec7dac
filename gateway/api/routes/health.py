"""``/healthz`` (the process is up) and ``/readyz`` (a snapshot has been published)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text
from starlette.responses import Response

from gateway.api.deps import Conn
from gateway.api.envelope import json_response
from gateway.api.routing import DatabaseRoute

router = APIRouter(tags=["health"])


@router.api_route("/healthz", methods=["GET"])
async def healthz() -> Response:
    return json_response({"status": "ok"})


async def readyz(conn: Conn) -> Response:
    n = conn.execute(text("SELECT count(*) FROM source_state WHERE published_run IS NOT NULL")).scalar()
    if not n:
        return json_response({"status": "not ready", "detail": "no snapshot published yet"}, status=503)
    return json_response({"status": "ready"})


# /healthz answers from the event loop; /readyz asks the database, from a worker thread on PostgreSQL.
router.add_api_route("/readyz", readyz, methods=["GET"], route_class_override=DatabaseRoute)
