"""The FastAPI application: routes, problem responses, and what it serves from."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
from collections.abc import AsyncIterator, Callable
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import iter_route_contexts
from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cache.loopreads import LoopReads
from cache.store import Cache
from cache.types import utcnow
from config.errors import ConfigError, ConfigProblem
from config.settings import ROUTE_BODY_BYTES, PorticoConfig
from gateway.api import docs as api_docs
from gateway.api import openapi as contract
from gateway.api import problems
from gateway.api.deps import Portico
from gateway.api.edge import Edge
from gateway.api.routes import (
    alerts,
    auth,
    family,
    health,
    me,
    metrics,
    notices,
    privacy,
    records,
    recovery,
    students,
)
from gateway.api.routing import DataFirst
from gateway.ops.mail import Mailer, mailer_from
from gateway.ops.metrics import GuardCounters

log = structlog.get_logger("portico.api")

# What a parent's app opens first (scripts/bench_api measures this dashboard).
DASHBOARD = ("attendance", "timetable", "grades", "behaviour")


class HeadAsGet:
    """HEAD is GET without the body (RFC 9110 §9.3.2), for every route.

    Routes declare GET only, so the OpenAPI document has one operation per route
    instead of a duplicate HEAD operation with the same id.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        # A copy: the server still sees HEAD (and sends no body). The matched route is
        # handed back for the edge's access line.
        inner = {**scope, "method": "GET"}
        try:
            await self.app(inner, receive, send_headers_only)
        finally:
            if "route" in inner:
                scope["route"] = inner["route"]


def settle_before_serving() -> None:
    """Call once the app is built, just before the server starts accepting requests.

    A full garbage collection walks every object the process holds, and after start-up
    that is over 100,000 of them (FastAPI, SQLAlchemy, Pydantic and their types): one
    measured 80 ms with the event loop stopped, and in-process runs saw two in 2,000
    dashboard requests. Those pauses were the 99th percentile of scripts/bench_api.
    Start-up objects live as long as the process, so they are moved out of the
    collector's sight (``gc.freeze``) and only objects made while serving are collected.
    """
    gc.collect()
    gc.freeze()


class PorticoAPI(FastAPI):
    """The FastAPI app with :class:`~gateway.api.edge.Edge` around everything, the handler
    of unexpected errors included, so every answer gets the edge's limits and headers."""

    edge: Edge | None = None

    def build_middleware_stack(self) -> ASGIApp:
        # Built when the app first starts or answers, with every route in place (the
        # portal's included): a body limit named for a route that does not exist stops it.
        portico: Portico = self.state.portico
        _check_body_routes(portico.config, self.routes)
        # The data routes' GETs skip FastAPI's middleware stack (gateway.api.routing.DataFirst).
        served = DataFirst(super().build_middleware_stack(), self.router, passes=(HeadAsGet,))
        self.edge = Edge(served, portico.config.api, portico.guards)
        return self.edge


@contextlib.asynccontextmanager
async def _serving(app: FastAPI) -> AsyncIterator[None]:
    """On PostgreSQL, the data routes' connections on the loop that serves the app
    (``cache.loopreads``), from its start to its end; nothing on SQLite."""
    portico: Portico = app.state.portico
    engine = portico.cache.engine
    if engine.dialect.name != "postgresql":
        yield
        return
    keys = portico.cache.keyring.engine.url  # the keystore: read on the loop too if PostgreSQL
    reads = LoopReads(
        engine.url.render_as_string(hide_password=False),
        keys=keys.render_as_string(hide_password=False) if keys.get_backend_name() == "postgresql" else None,
    )
    await reads.start()
    for part, named in (("cache", reads.ignored), ("keystore", reads.keys.ignored if reads.keys else ())):
        if named:  # client-side options asyncpg has no equivalent for (TCP keepalives, say)
            log.warning("api.loop_connection_options_ignored", database=part, options=sorted(set(named)))
    portico.loop_reads = reads
    try:
        yield
    finally:
        portico.loop_reads = None
        await reads.close()


def create_app(
    config: PorticoConfig,
    cache: Cache,
    clock: Callable[[], dt.datetime] | None = None,
    mailer: Mailer | None = None,
    metrics_registry: CollectorRegistry | None = None,
    metrics_token: str | None = None,
    guards: GuardCounters | None = None,
) -> FastAPI:
    app = PorticoAPI(
        title="Portico parent and student API",
        version="1",
        description="Read-only access for parents, guardians and students to their own school records.",
        docs_url=None,  # served offline by gateway.api.docs when enabled
        redoc_url=None,
        openapi_url="/openapi.json",
        # No trailing-slash redirects: Starlette builds them from the request's Host header.
        redirect_slashes=False,
        # Portico exports Prometheus metrics (gateway.ops.metrics) and configures no
        # OpenTelemetry provider: FastAPI's own telemetry would only ask, on every
        # request, whether one was configured since (docs/PERFORMANCE-api-notes.md).
        telemetry={"tracing": False, "metrics": False, "logs": False},
        lifespan=_serving,
    )
    app.state.portico = Portico(
        config=config,
        cache=cache,
        clock=clock or utcnow,
        mailer=mailer or mailer_from(config.mail),
        metrics=metrics_registry,
        metrics_token=metrics_token,
        guards=guards or GuardCounters(),
    )
    problems.install(app)
    app.add_middleware(HeadAsGet)
    # Starlette matches routes in order: the data routes, by far the most requested, go first.
    data = [records.router, students.router, notices.router]
    served = [route for router in data for route in router.routes]
    # Routes are tried in order: the dashboard's four first (no two data routes overlap).
    served.sort(key=lambda r: DASHBOARD.index(r.name) if r.name in DASHBOARD else len(DASHBOARD))
    app.router.routes[:0] = served
    for module in (me, alerts, auth, recovery, privacy, family, health, metrics):
        app.include_router(module.router)
    app.include_router(family.feed_router)
    if config.api.docs:
        api_docs.install(app)
    documented = [route for router in data for route in router.doc_routes()]

    def openapi() -> dict[str, Any]:
        # The data routes are served by Starlette (gateway.api.routing) and documented from
        # the same function signatures as FastAPI's own routes.
        if app.openapi_schema is None:
            app.openapi_schema = contract.finish(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=[*documented, *app.routes],
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _check_body_routes(config: PorticoConfig, routes: list[Any]) -> None:
    """Each route the config names in ``api.limits.route_body_bytes`` must exist (a typo would
    leave the route at the default limit); the defaults name the portal's, which an app
    without the portal lacks."""
    paths = {context.path for context in iter_route_contexts(routes)}
    unknown = sorted(set(config.api.limits.route_body_bytes) - paths - set(ROUTE_BODY_BYTES))
    if unknown:
        raise ConfigError(
            [
                ConfigProblem(
                    "config", "api.limits.route_body_bytes", None, f"no such route: {', '.join(unknown)}"
                )
            ]
        )
