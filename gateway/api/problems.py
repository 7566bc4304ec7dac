"""RFC 9457 problem responses: never a stack trace, SQL, record content or another person's data."""

from __future__ import annotations

from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from config.errors import SnapshotUnavailableError

log = structlog.get_logger("portico.api")
PROBLEM = "application/problem+json"
NO_STORE = {"Cache-Control": "no-store"}


class Problem(Exception):
    def __init__(
        self,
        status: int,
        type_: str,
        title: str,
        detail: str = "",
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.status, self.type, self.title, self.detail = status, type_, title, detail
        self.headers = headers or {}
        self.extra = extra or {}


def problem_response(p: Problem) -> Response:
    body = {"type": p.type, "title": p.title, "status": p.status, "detail": p.detail, **p.extra}
    return Response(
        orjson.dumps(body), status_code=p.status, media_type=PROBLEM, headers={**NO_STORE, **p.headers}
    )


def not_found() -> Problem:
    """The one 404: identical for a record that is not yours and one that does not exist."""
    return Problem(404, "not-found", "Not found", "No such resource.")


def bad_request(detail: str, errors: list[dict[str, str]] | None = None) -> Problem:
    return Problem(
        400, "invalid-request", "Invalid request", detail, extra={"errors": errors} if errors else None
    )


def too_many_requests(seconds: int, detail: str) -> Problem:
    """A costly action over its limit (``api.throttles``): 429 with ``Retry-After``."""
    return Problem(
        429, "too-many-requests", "Too many requests", detail, headers={"Retry-After": str(seconds)}
    )


_STATUS_TITLES = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    429: "Too many requests",
}


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> Response:
        return problem_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        # Name the field and what was expected; never echo the submitted value.
        errors = [
            {
                "field": ".".join(str(p) for p in e["loc"] if p not in ("body", "query", "path")),
                "message": e["msg"],
            }
            for e in exc.errors()
        ]
        return problem_response(
            bad_request("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors)
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return problem_response(not_found())
        headers = dict(exc.headers or {})
        title = _STATUS_TITLES.get(exc.status_code, "Error")
        return problem_response(Problem(exc.status_code, "about:blank", title, title + ".", headers=headers))

    @app.exception_handler(SnapshotUnavailableError)
    async def _unavailable(_: Request, exc: SnapshotUnavailableError) -> Response:
        return problem_response(
            Problem(
                503,
                "snapshot-unavailable",
                "Not ready",
                "No data has been synced yet.",
                headers={"Retry-After": "60"},
            )
        )

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        log.error("api.unhandled", error_class=type(exc).__name__, path_template=_template(request))
        return problem_response(
            Problem(500, "about:blank", "Internal error", "Something went wrong on our side.")
        )


def _template(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", "?")
