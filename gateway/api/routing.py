"""The read-only data routes: declared like any FastAPI route, served as plain Starlette routes.

The data routes carry almost all of a portal's traffic (a parent's dashboard is four
of them), and FastAPI's per-request work (dependency solving, parameter models,
exit stacks) cost more CPU than the query, decryption and JSON of a typical answer
(``scripts/bench_api``). So each data route is an ordinary ``async`` function with a
FastAPI signature, ``view: ViewDep`` plus ``str``/``int`` path and query parameters,
and that one signature is used twice:

- FastAPI reads it into the OpenAPI contract (:meth:`DataRouter.doc_routes`), exactly
  as if the route were served by FastAPI;
- :func:`_serve` reads it once at start-up into a small plan, and at request time
  opens the authorised :class:`~gateway.api.deps.View` (401/403 come first, as with the
  dependency), parses the query by that plan (a bad value is the same 400
  ``invalid-request`` problem naming the parameter) and calls the function.

Errors raised by a handler reach the app's problem handlers like any other route's;
405 for other methods comes from Starlette's route.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import inspect
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin

import orjson
import structlog
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
from fastapi.params import Depends
from fastapi.routing import APIRoute
from pydantic.fields import FieldInfo
from starlette._utils import get_route_path
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from cache.loopreads import LOST, WouldBlock
from cache.read.reader import FirstRead
from gateway.api.deps import (
    UNSETTLED,
    FamilyTokenOnWorker,
    Planned,
    Portico,
    View,
    open_loop_view,
    open_view,
    portico_of,
)
from gateway.api.offload import Workers
from gateway.api.params import NUL_IN_JSON, holds_nul, may_hold_nul, nul_field
from gateway.api.problems import Problem, bad_request

log = structlog.get_logger("portico.api")

Endpoint = Callable[..., Awaitable[Response]]
# A route's first read of the student its path names (``DataRouter.get(first=...)``),
# planned from the app, the request's reading of the clock, its day in the district and
# the route's arguments as the handler gets them (but the view).
FirstOf = Callable[[Portico, dt.datetime, dt.date, dict[str, Any]], FirstRead | None]
_NO_QUERY: Mapping[str, str] = {}


@dataclass(frozen=True)
class _Param:
    name: str  # the function's parameter
    alias: str  # the query string's name
    integer: bool
    max_length: int | None
    default: Any


@dataclass(frozen=True)
class _Plan:
    view: str
    path: tuple[str, ...]
    query: tuple[_Param, ...]


def _is_view(annotation: Any) -> bool:
    return get_origin(annotation) is Annotated and get_args(annotation)[0] is View


def _require(ok: bool, endpoint: Endpoint, what: str) -> None:
    if not ok:
        raise TypeError(f"data route {endpoint.__name__}: {what}")


def _plan(path: str, endpoint: Endpoint) -> _Plan:
    """What to pass ``endpoint``, from its signature; anything this module cannot serve fails at start-up."""
    view = None
    path_names: list[str] = []
    query: list[_Param] = []
    for name, p in inspect.signature(endpoint, eval_str=True).parameters.items():
        if _is_view(p.annotation):
            view = name
            continue
        kinds = set(get_args(p.annotation)) - {type(None)} or {p.annotation}
        if "{" + name + "}" in path:
            _require(kinds == {str}, endpoint, f"path parameter {name} must be a str")
            path_names.append(name)
        else:
            info = p.default if isinstance(p.default, FieldInfo) else None
            _require(not isinstance(p.default, Depends), endpoint, "only the view is a dependency")
            _require(kinds in ({str}, {int}), endpoint, f"{name} must be str or int")
            lengths = [m.max_length for m in (info.metadata if info else []) if hasattr(m, "max_length")]
            query.append(
                _Param(
                    name,
                    (info.alias if info else None) or name,
                    kinds == {int},
                    lengths[0] if lengths else None,
                    info.default if info else p.default,
                )
            )
    _require(view is not None, endpoint, "a data route reads through view: ViewDep")
    assert view is not None
    return _Plan(view, tuple(path_names), tuple(query))


def _arguments(plan: _Plan, request: Request) -> dict[str, Any]:
    """Path and query values by the plan; every bad one named in one 400 problem."""
    kwargs: dict[str, Any] = {name: request.path_params[name] for name in plan.path}
    # Most requests have no query string: no QueryParams parsed for nothing.
    given: Mapping[str, str] = request.query_params if request.scope.get("query_string") else _NO_QUERY
    errors: list[dict[str, str]] = []
    for q in plan.query:
        raw = given.get(q.alias)
        if raw is None:
            kwargs[q.name] = q.default
        elif q.integer:
            try:
                kwargs[q.name] = int(raw)
            except ValueError:
                errors.append({"field": q.alias, "message": "expected an integer"})
        elif q.max_length is not None and len(raw) > q.max_length:
            errors.append({"field": q.alias, "message": f"at most {q.max_length} characters"})
        else:
            kwargs[q.name] = raw
    if errors:
        raise bad_request("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors)
    return kwargs


def _serve(
    plan: _Plan, endpoint: Endpoint, on_loop: bool, first: FirstOf | None
) -> Callable[[Request], Awaitable[Response]]:
    def planned(request: Request, kwargs: dict[str, Any] | None) -> Planned | None:
        """The route's first read, planned from its arguments. A plan never changes an
        answer: arguments it cannot plan from (bad ones, say) give none, and the handler
        judges them as it always does, after the sign-in gates."""
        if first is None or kwargs is None:
            return None
        app = portico_of(request)

        def plan_first(now: dt.datetime, today: dt.date) -> FirstRead | None:
            try:
                return first(app, now, today, kwargs)
            except Exception:  # noqa: BLE001 - see above: no plan, the handler answers
                return None

        return plan_first

    async def run(
        request: Request, opened: Awaitable[View], parsed: dict[str, Any] | None = None
    ) -> Response:
        view = await opened  # sign-in and policy gates before anything is parsed (or judged)
        try:
            kwargs = parsed if parsed is not None else _arguments(plan, request)
            kwargs[plan.view] = view
            return await endpoint(**kwargs)
        except Exception as exc:
            # A request on the loop holds its audit events until settle: an error after the
            # relationship check (a bad cursor, say) records them as a worker thread's does,
            # before its answer; one that hands the request over records nothing here.
            if view.held and not isinstance(exc, LOST):
                await view.settle()
            raise
        finally:
            view.close()

    def handle(request: Request) -> Coroutine[Any, Any, Response]:
        return run(request, open_view(request))

    async def serve(request: Request) -> Response:
        app = portico_of(request)
        workers = app.workers
        if workers is None:
            return await handle(request)
        reads = app.loop_reads
        if on_loop and reads is not None and reads.here():
            # PostgreSQL, a parent data route: its reads awaited on this loop (cache.loopreads),
            # its first read in the session's statement (its arguments parsed for that first:
            # bad ones are answered by the handler, after the sign-in gates, as elsewhere).
            # Work that would need a round trip of its own (a session that ended to delete,
            # a denied read to count) hands the request over to a worker thread,
            # before any answer or audit event: it is served there from the start.
            try:
                parsed = _arguments(plan, request) if first is not None else None
            except Problem:
                parsed = None
            try:
                return await run(request, open_loop_view(request, reads, planned(request, parsed)), parsed)
            except WouldBlock as exc:
                reads.handed_over += 1
                app.guards.hand_over(
                    "family_token" if isinstance(exc, FamilyTokenOnWorker) else "would_block"
                )
            except LOST as exc:
                reads.handed_over += 1
                app.guards.hand_over("connection_lost")
                log.warning("api.loop_connection_lost", error_class=type(exc).__name__)
        # A data route's handler waits for nothing on the worker: stepped by hand there.
        return await offloaded(workers, request, lambda: handle(request), direct=True)

    return serve


async def offloaded(
    workers: Workers,
    request: Request,
    work: Callable[[], Coroutine[Any, Any, Response]],
    *,
    direct: bool = False,
) -> Response:
    """``work`` (the whole request) on a worker thread, so no round trip to the database
    stops the event loop (:mod:`gateway.api.offload`); then, on this loop, the wait for
    the audit commits it left here (``View.settle``): no answer leaves before them, and
    an error's answer, which carries no data, waits the same."""
    unsettled: list[asyncio.Future[None]] = request.scope.setdefault(UNSETTLED, [])
    try:
        response = await (workers.run_direct(work) if direct else workers.run(work))
    finally:
        done = await asyncio.gather(*unsettled, return_exceptions=True)
    for outcome in done:
        if isinstance(outcome, BaseException):
            raise outcome
    return response


async def refuse_nul_body(request: Request) -> None:
    """A 400 naming the field when the JSON body holds a NUL character anywhere
    (:data:`gateway.api.params.NUL`); a body that is not JSON is left to the route."""
    body = await request.body()  # kept on the request: the handler reads it from there
    if not may_hold_nul(body, NUL_IN_JSON):  # most bodies are never parsed here
        return
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return
    field = nul_field(parsed)
    if field is not None:
        raise holds_nul(field)


class DatabaseRoute(APIRoute):
    """A FastAPI route whose handler uses the database (``Conn``, ``ViewDep``): on a
    database server, its dependencies and handler run on a worker thread like a data
    route's, after the body is read here (the worker cannot await this loop's receive).
    Every API route with a body is one: its JSON is refused here if it holds a NUL."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        has_body = self.body_field is not None

        async def on_worker(request: Request) -> Response:
            # FastAPI closes the dependencies' exits (the connection's return to the pool,
            # a round trip) from stacks in the scope: these close here, on the worker.
            async with AsyncExitStack() as inner:
                request.scope["fastapi_inner_astack"] = inner
                async with AsyncExitStack() as function:
                    request.scope["fastapi_function_astack"] = function
                    return await handler(request)

        async def run(request: Request) -> Response:
            if has_body:
                await refuse_nul_body(request)
            workers = portico_of(request).workers
            if workers is None:
                return await handler(request)
            await request.body()  # kept on the request: the handler reads it from there
            return await offloaded(workers, request, lambda: on_worker(request))

        return run


class DataRoute(Route):
    """A Starlette route that names itself in the scope (``scope["route"]``), as FastAPI's
    do: the edge's access line and the error log give its template, never the path."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.NONE:
            child["route"] = self
        return match, child


class DataRouter:
    """Data routes under one prefix: Starlette routes to serve, APIRoutes to document."""

    def __init__(self, prefix: str, tags: list[str]) -> None:
        self.prefix, self.tags = prefix, tags
        self.routes: list[DataRoute] = []
        self._docs: list[tuple[str, Endpoint]] = []

    def get(
        self, path: str, *, on_loop: bool = False, first: FirstOf | None = None
    ) -> Callable[[Endpoint], Endpoint]:
        """Register a data route; ``on_loop``: on PostgreSQL its reads are awaited on the
        serving loop (``Reader.aquery`` and its kin) instead of run on a worker thread;
        ``first``: there, its first read of the student its path names is planned before
        the session is read, and read in the session's statement (``FirstRead``)."""

        def register(endpoint: Endpoint) -> Endpoint:
            full = self.prefix + path
            handler = _serve(_plan(full, endpoint), endpoint, on_loop, first)
            self.routes.append(DataRoute(full, handler, methods=["GET"], name=endpoint.__name__))
            self._docs.append((full, endpoint))
            return endpoint

        return register

    def doc_routes(self) -> list[APIRoute]:
        """The same routes as FastAPI would declare them, for the OpenAPI document only."""
        return [APIRoute(path, fn, methods=["GET"], tags=list(self.tags)) for path, fn in self._docs]


class _Absent:
    """A layer this version of the framework does not have: nothing is an instance of it."""


def framework_layer(module: str, name: str) -> type:
    """A middleware class the framework keeps in a private module, or :class:`_Absent` when
    an upgrade has moved or removed it. :class:`DataFirst` then finds an unknown layer in
    the stack and turns itself off: never an import error, never a layer skipped."""
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return _Absent
    return found if isinstance(found, type) else _Absent


_BODY_LIMIT = framework_layer("fastapi._body_limit", "AppBodyLimitMiddleware")
_TELEMETRY = framework_layer("fastapi.telemetry._asgi", "ExceptionTelemetryMiddleware")


class DataFirst:
    """The data routes' GETs served without FastAPI's middleware stack, every other request
    through it (``stack``): for a data route's GET, each layer of that stack either does
    nothing or is done here the same way, so the answers are the same, byte for byte.

    The layers, outermost first, and what becomes of each for such a request:

    - **the 500 answer** (Starlette's ``ServerErrorMiddleware``): the same middleware with
      the same handler, around the route alone: an unexpected error is answered with the
      problem body and logged (``api.unhandled``), then raised on for the server's log;
    - FastAPI's **exception telemetry**: observes exceptions only when telemetry is on, and
      then the request goes through the stack;
    - FastAPI's **body limit**: only with ``max_body_size`` set (Portico sets none: the edge
      bounds every body); with one set, nothing is served here;
    - the app's own middleware listed in ``passes`` (:class:`~gateway.api.app.HeadAsGet`):
      each leaves a GET untouched;
    - **the problem handlers** (Starlette's ``ExceptionMiddleware``): its own handler tables
      are put in the scope, where the route's ``request_response`` finds them, as there;
    - FastAPI's **exit stack**: closes the files of uploaded forms; a data route reads none;
    - **the router**: its routes tried in its own order, and the first that matches the
      whole request is served here only if it is a data route.

    Any other layer found in the stack turns this off (everything goes through the stack):
    a middleware added later is never skipped. The edge (:mod:`gateway.api.edge`) stays
    outside both: limits, trusted proxies, default headers, metrics and the access line."""

    def __init__(self, stack: ASGIApp, router: Router, passes: tuple[type, ...] = ()) -> None:
        self.stack = stack
        self.router = router
        self.errors: ServerErrorMiddleware | None = None
        self.handlers: tuple[Any, Any] = ({}, {})
        self.prefixes: tuple[str, ...] = ()
        layer = stack
        if not isinstance(layer, ServerErrorMiddleware):
            return
        errors = layer
        layer = layer.app
        if isinstance(layer, _TELEMETRY):
            layer = layer.app  # type: ignore[attr-defined]
        if isinstance(layer, _BODY_LIMIT):
            layer = layer.app  # type: ignore[attr-defined]
        while isinstance(layer, passes):
            layer = layer.app  # type: ignore[attr-defined]
        if not isinstance(layer, ExceptionMiddleware):
            return
        handlers = getattr(layer, "_exception_handlers", None), getattr(layer, "_status_handlers", None)
        if not all(isinstance(table, dict) for table in handlers):
            return  # an ExceptionMiddleware that keeps its tables elsewhere: not known here
        self.handlers = handlers
        layer = layer.app
        if isinstance(layer, AsyncExitStackMiddleware):
            layer = layer.app
        if layer is not router:
            return
        self.errors = ServerErrorMiddleware(_handle_route, handler=errors.handler, debug=errors.debug)
        self.prefixes = tuple(
            {route.path.split("{", 1)[0] for route in router.routes if isinstance(route, DataRoute)}
        )

    @property
    def active(self) -> bool:
        """Whether data routes are served here (see the class)."""
        return self.errors is not None and bool(self.prefixes)

    def _route(self, scope: Scope) -> DataRoute | None:
        """The route the router would serve ``scope`` with, if it is a data route (set in
        the scope as the router sets it)."""
        if scope["method"] != "GET" or "fastapi.telemetry" in scope:
            return None
        if not get_route_path(scope).startswith(self.prefixes):
            return None  # no data route's template starts otherwise
        for route in self.router.routes:
            match, child = route.matches(scope)
            if match is Match.FULL:
                if not isinstance(route, DataRoute):
                    return None
                scope["route"] = route
                scope.update(child)
                return route
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.errors is not None and scope["type"] == "http" and self._route(scope) is not None:
            scope.setdefault("router", self.router)
            scope["starlette.exception_handlers"] = self.handlers
            await self.errors(scope, receive, send)
            return
        await self.stack(scope, receive, send)


async def _handle_route(scope: Scope, receive: Receive, send: Send) -> None:
    await scope["route"].handle(scope, receive, send)
