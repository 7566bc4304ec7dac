"""The interactive API docs (``api.docs: true``), served by Portico itself: Swagger UI's
files come from the ``fastapi-offline`` package, so the page works with no network."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

ASSETS = Path(fastapi_offline.__file__).parent / "static"
FILES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css", "favicon.png": "image/png"}
# Swagger UI styles some elements inline and draws icons as data: images; nothing else is allowed.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Portico API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" href="/docs/favicon.png">
</head>
<body>
<main id="swagger-ui"></main>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/start.js"></script>
</body>
</html>
"""
# No inline script: the page starts Swagger UI from this file.
START = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: false,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
});
"""


async def page(_: Request) -> Response:
    return HTMLResponse(PAGE, headers=HEADERS)


async def start(_: Request) -> Response:
    return Response(
        START, media_type="text/javascript", headers={**HEADERS, "Cache-Control": "public, max-age=3600"}
    )


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in FILES:
        return Response(status_code=404)
    return FileResponse(
        ASSETS / name, media_type=FILES[name], headers={**HEADERS, "Cache-Control": "public, max-age=86400"}
    )


def install(app: FastAPI) -> None:
    app.router.routes.extend(
        [
            Route("/docs", page, methods=["GET"], name="docs"),
            Route("/docs/start.js", start, methods=["GET"], name="docs-start"),
            Route("/docs/{name}", asset, methods=["GET"], name="docs-asset"),
        ]
    )
