"""Put the portal on the API's app: its pages first among the non-data routes, and its
static files (served by Portico itself: no CDN)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette._utils import get_route_path
from starlette.convertors import CONVERTOR_TYPES
from starlette.datastructures import URLPath
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.web import account, alerts, auth, child, family, home, privacy, recovery  # noqa: F401 - each registers its pages
from gateway.web.render import ROUTES, Ctx, not_found

STATIC = Path(__file__).parent / "static"


class _Cached:
    """Static files are versioned in their URLs (``?v=`` their hash): browsers keep them a year."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_cached(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                headers += [
                    (b"cache-control", b"public, max-age=31536000, immutable"),
                    (b"x-content-type-options", b"nosniff"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_cached)


# Where the API answers (its data routes, docs and health): an unknown address there
# answers problem+json, as every API error does; anywhere else, the portal's page. (A
# refused ``/metrics`` answers as an unknown address does: it is not listed here.)
API_PREFIXES = ("/v1", "/docs", "/openapi.json", "/healthz", "/readyz")


def is_api(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in API_PREFIXES)


# Convertors whose values never hold a "/" (``path``'s may, and another's is not known).
_IN_SEGMENT = tuple(type(CONVERTOR_TYPES[name]) for name in ("str", "int", "float", "uuid"))


class Pages(BaseRoute):
    """The portal's page routes as one route, first in the app's list: a page is found
    without trying every API route before it (FastAPI's included routers cost tens of
    microseconds each), and an API address costs one prefix check here.

    Among the pages, only those that could match are tried: a route's address has as
    many segments as the paths it matches (no parameter of a page matches ``/``), and
    its literal first and last segments are those of the path, so each route is indexed
    by them (its count of segments and first segment; and its last, where that is
    literal). The candidates are tried in the routes' own order, as a list walk would.
    """

    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes
        anywhere: list[int] = []  # routes that cannot be indexed: tried for every path
        by_first: dict[tuple[int, str], list[int]] = {}  # their last segment a parameter
        by_last: dict[tuple[int, str, str], list[int]] = {}
        for i, route in enumerate(routes):
            segments = route.path.split("/")
            if "{" in segments[1] or any(type(c) not in _IN_SEGMENT for c in route.param_convertors.values()):
                anywhere.append(i)
            elif "{" in segments[-1]:
                by_first.setdefault((len(segments), segments[1]), []).append(i)
            else:
                by_last.setdefault((len(segments), segments[1], segments[-1]), []).append(i)

        def tried(*groups: list[int]) -> list[Route]:
            return [routes[i] for i in sorted({i for g in groups for i in g})]

        self._anywhere = tried(anywhere)
        self._by_first = {k: tried(v, anywhere) for k, v in by_first.items()}
        self._by_last = {k: tried(v, by_first.get(k[:2], []), anywhere) for k, v in by_last.items()}

    def candidates(self, path: str) -> list[Route]:
        """The routes that could match ``path`` (a route path), in the routes' order."""
        segments = path.split("/")
        if len(segments) < 2:
            return self._anywhere
        n, first = len(segments), segments[1]
        found = self._by_last.get((n, first, segments[-1]))
        if found is None:
            found = self._by_first.get((n, first), self._anywhere)
        return found

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        path = get_route_path(scope)
        if is_api(path):
            return Match.NONE, {}
        partial: tuple[Match, Scope] | None = None
        for route in self.candidates(path):
            match, found = route.matches(scope)
            if match is Match.NONE:
                continue
            found["route"] = route  # the page's own template, for the access line and metrics
            if match is Match.FULL:
                return match, found
            if partial is None:
                partial = (match, found)
        return partial or (Match.NONE, {})

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await scope["route"].handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        for route in self.routes:
            try:
                return route.url_path_for(name, **path_params)
            except NoMatchFound:
                pass
        raise NoMatchFound(name, path_params)


def install(app: FastAPI) -> None:
    """Serve the portal's pages and static files from ``app`` (the API's own)."""
    from starlette.routing import Mount

    app.router.routes.insert(0, Pages(ROUTES))
    app.router.routes.append(Mount("/static", app=_Cached(StaticFiles(directory=STATIC)), name="static"))
    api_handler = app.exception_handlers[StarletteHTTPException]

    async def http_error(request: Request, exc: Exception) -> Response:
        """An address no page has gets the portal's 404 page, in the reader's language."""
        if (
            isinstance(exc, StarletteHTTPException)
            and exc.status_code == 404
            and not is_api(request.url.path)
        ):
            ctx = Ctx(request)
            try:
                return not_found(ctx)
            finally:
                ctx.close()
        return await api_handler(request, exc)  # type: ignore[no-any-return,misc]

    app.add_exception_handler(StarletteHTTPException, http_error)
