"""Put the portal on the API's app: its pages first among the non-data routes, and its
static files (served by Portico itself: no CDN)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.web import account, alerts, auth, child, family, home, privacy, recovery  # noqa: F401 - each registers its pages
from gateway.web.render import ROUTES

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


def install(app: FastAPI) -> None:
    """Serve the portal's pages and static files from ``app`` (the API's own)."""
    from starlette.routing import Mount

    app.router.routes.extend(ROUTES)
    app.router.routes.append(Mount("/static", app=_Cached(StaticFiles(directory=STATIC)), name="static"))
