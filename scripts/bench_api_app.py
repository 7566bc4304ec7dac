"""ASGI apps for scripts/bench_api: Portico built from the bench's config, and a trivial JSON endpoint."""

from __future__ import annotations

import json
import os
from pathlib import Path

from fastapi import FastAPI

from cache.store import open_cache
from config.secrets import SecretResolver
from config.settings import PorticoConfig
from gateway.api.app import create_app, settle_before_serving
from gateway.ops.logging import configure_logging


def portico() -> FastAPI:
    base = Path(os.environ["PORTICO_BENCH_DIR"])
    config = PorticoConfig.model_validate(json.loads((base / "config.json").read_text()))
    # Logging as a deployment sets it, at the level the bench runs uvicorn with (warning):
    # the edge's access lines are info, like the uvicorn access log the bench turns off.
    configure_logging(config.logging.model_copy(update={"level": "warning"}))
    app = create_app(config, open_cache(config, SecretResolver(base_dir=base)))
    settle_before_serving()  # as `portico serve` and `portico api` do
    return app


def portal() -> FastAPI:
    """Portico with the web portal mounted, as ``portico serve`` runs it (scripts/bench_web)."""
    from gateway.web import mount

    base = Path(os.environ["PORTICO_BENCH_DIR"])
    config = PorticoConfig.model_validate(json.loads((base / "config.json").read_text()))
    app = create_app(config, open_cache(config, SecretResolver(base_dir=base)))
    mount.install(app)
    settle_before_serving()
    return app


def trivial() -> FastAPI:
    """The framework's ceiling: the same server, no auth, no database, a constant JSON body."""
    app = FastAPI()

    @app.get("/trivial")
    async def hello() -> dict[str, bool]:
        return {"ok": True}

    settle_before_serving()  # served exactly as Portico is
    return app


def portico_unaudited() -> FastAPI:
    """Portico with the audit write skipped: only to measure what recording costs a request.

    Never a product setting: the audit is not optional in Portico; this factory exists in
    the benchmark alone, and replaces the flush with one that resolves the waiters.
    """
    from gateway.api.auditbatch import AuditBatcher

    def flush_nothing(self: AuditBatcher, loop: object) -> None:
        for _, fut in self.pending.pop(loop, []):  # type: ignore[call-overload]
            if not fut.done():
                fut.set_result(None)

    AuditBatcher._flush = flush_nothing  # type: ignore[method-assign]
    return portico()


def serve_processes() -> None:
    """``python -m scripts.bench_api_app FACTORY PORT PROCESSES``: one of the factories above
    served from PROCESSES processes on one socket, as ``portico api --processes`` serves
    Portico (:func:`gateway.api.server.serve_processes`; each process builds its own app),
    or, with one, as ``portico serve`` does (:func:`gateway.api.server.serve`)."""
    import sys

    from config.settings import ApiSettings
    from gateway.api.server import serve, serve_processes

    factory, port, processes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    build = {
        "portal": portal,
        "portico": portico,
        "portico_unaudited": portico_unaudited,
        "trivial": trivial,
    }[factory]
    api = ApiSettings(host="127.0.0.1")
    if processes == 1:  # as `portico serve` runs: no fork
        serve(build(), api, port=port)
        return
    raise SystemExit(serve_processes(build, lambda: None, api, processes, port=port))


if __name__ == "__main__":
    serve_processes()
