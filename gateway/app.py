"""The FastAPI application: routes, problem responses, and what it serves from."""

from __future__ import annotations

from fastapi import FastAPI

from cache.store import Cache
from config.settings import PorticoConfig
from gateway import problems
from gateway.deps import Portico
from gateway.routes import auth, health, me, privacy, students


def create_app(config: PorticoConfig, cache: Cache) -> FastAPI:
    docs = config.api.docs
    app = FastAPI(
        title="Portico parent and student API",
        version="1",
        description="Read-only access for parents, guardians and students to their own school records.",
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.portico = Portico(config=config, cache=cache)
    problems.install(app)
    for module in (health, auth, me, students, privacy):
        app.include_router(module.router)
    return app
