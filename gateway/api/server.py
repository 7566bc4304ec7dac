"""Running the API under uvicorn, the same way for ``serve``, ``api`` and the demo.

One place decides how uvicorn runs: its loggers go through Portico's redaction (no
log config of its own), the edge writes the access lines (uvicorn's own carry raw paths,
and with them ids), forwarding headers are believed only by the edge (from
``api.trusted_proxies``), and the HTTP protocol refuses oversize request heads before
they are buffered.

Why a protocol of our own: uvicorn's httptools protocol has no limit on a request's
head. httptools collects each header value in full before handing it over, so a 10 MB
header or 20,000 header fields are held in memory before any application code could
refuse them. :class:`BoundedHttpTools` counts as the bytes arrive and answers 414 or 431
(``application/problem+json``, the connection closed) as soon as a limit of
``api.limits`` is passed. (uvicorn's h11 protocol has ``h11_max_incomplete_event_size``
for the same purpose; it is set too, for a deployment that chooses h11, which answers a
plain 400 instead.)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

import httptools
import uvicorn
from fastapi import FastAPI
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from config.settings import ApiSettings, RequestLimits
from gateway.api.acceptor import Acceptor, Share, counted
from gateway.api.edge import refusal, security_headers
from gateway.ops.metrics import GuardCounters

# Bytes of a request head beyond the configured URL and header limits before the
# connection is refused without waiting for the parser: the request line, separators.
_SLACK = 4096


class _Refused(Exception):
    def __init__(self, reason: str, limit: int) -> None:
        self.reason, self.limit = reason, limit


class BoundedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with the request head bounded by ``api.limits``.

    Every part of every head passes through here, so the parser's callbacks cost as little
    as they can (measured in docs/PERFORMANCE-api-notes.md, "The serving path, measured"):
    uvicorn's ``on_url`` and ``on_header`` are written out with the counts in them, not
    called through ``super()``; a head's counts start at its first header, not in an
    ``on_message_begin`` of our own; whether the parser is in a head is read from uvicorn's
    scope in ``data_received`` (the method is set once the head is complete), not kept by
    an ``on_headers_complete`` of our own.
    """

    limits: RequestLimits = RequestLimits()
    counters: GuardCounters | None = None
    hsts: bytes = b""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limits = self.limits
        self._url_limit, self._count_limit = limits.url_bytes, limits.header_count
        self._bytes_limit = limits.header_bytes
        self._head_limit = limits.url_bytes + limits.header_bytes + _SLACK
        self._head_bytes = 0  # of the chunks that were all this head (see data_received)
        self._header_bytes = 0  # names and values of this head's headers so far
        self._ended: object = None  # the scope of the last request whose message ended

    # Parser callbacks: exact counts as each part of the head is parsed.
    def on_url(self, url: bytes) -> None:
        self.url += url  # uvicorn's own
        if len(self.url) > self._url_limit:
            raise _Refused("url", self._url_limit)

    def on_header(self, name: bytes, value: bytes) -> None:
        headers = self.headers  # a new list for each head (uvicorn's on_message_begin)
        if headers:
            self._header_bytes += len(name) + len(value)
        else:
            self._header_bytes = len(name) + len(value)
        if len(headers) >= self._count_limit:
            raise _Refused("header-count", self._count_limit)
        if self._header_bytes > self._bytes_limit:
            raise _Refused("header-bytes", self._bytes_limit)
        # uvicorn's own (uvicorn.protocols.http.httptools_impl), kept in step with it by
        # tests/unit/gateway/api/test_bounded_protocol.py
        name = name.lower()
        # llhttp keeps trailing OWS, which RFC 9110 section 5.5 excludes from the value.
        value = value.rstrip(b" \t")
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        headers.append((name, value))

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._ended = self.scope  # the next bytes begin a head

    def data_received(self, data: bytes) -> None:
        # uvicorn's own, with a refusal told apart from a malformed request.
        self._unset_keepalive_if_required()
        # Whether this chunk starts in a head: between requests (none yet, or the last one
        # ended), or inside one (begun: on_headers_complete has not set its method yet).
        scope = self.scope
        awaiting = scope is self._ended or "method" not in scope
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, _Refused):
                self._refuse(cause.reason, cause.limit)
                return
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserError:
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        now = self.scope  # (None while only the blank lines a parser skips have come)
        if awaiting and (now is None or "method" not in now):
            # The whole chunk was head, and one header value may still be growing inside
            # the parser, unseen by on_header: bound what it may hold (counted afresh when
            # this chunk began the head).
            self._head_bytes = (self._head_bytes if now is scope else 0) + len(data)
            if self._head_bytes > self._head_limit:
                self._refuse("header-bytes", self._bytes_limit)

    def _refuse(self, reason: str, limit: int) -> None:
        status, headers, body = refusal(reason, limit)
        if self.counters is not None:
            self.counters.refuse(reason)
        headers = security_headers(headers, https=self.scheme == "https", hsts=self.hsts)
        lines = [f"HTTP/1.1 {status} {_REASONS[status]}".encode()]
        lines += [name + b": " + value for name, value in headers]
        self.logger.info("Request refused at the edge (%s).", reason)
        self.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        self.transport.close()


_REASONS = {
    400: "Bad Request",
    413: "Content Too Large",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
}


def bounded_protocol(api: ApiSettings, counters: GuardCounters | None) -> type[asyncio.Protocol]:
    """:class:`BoundedHttpTools` with this config's limits."""
    return type(
        "PorticoHttpTools",
        (BoundedHttpTools,),
        {
            "limits": api.limits,
            "counters": counters,
            "hsts": f"max-age={int(api.hsts_max_age.total_seconds())}".encode(),
        },
    )


def uvicorn_options(app: FastAPI, api: ApiSettings) -> dict[str, Any]:
    """How every Portico process has uvicorn serve ``app`` (see the module's description)."""
    portico = getattr(app.state, "portico", None)  # (None: a benchmark's trivial app)
    return {
        "http": bounded_protocol(api, getattr(portico, "guards", None)),
        "h11_max_incomplete_event_size": api.limits.url_bytes + api.limits.header_bytes + _SLACK,
        "log_config": None,  # uvicorn's loggers propagate to Portico's (gateway.ops.logging)
        "access_log": False,  # the edge writes access lines, with the route template
        "proxy_headers": False,  # the edge believes X-Forwarded-* from api.trusted_proxies only
        "server_header": False,
    }


def uvicorn_config(
    app: FastAPI, api: ApiSettings, host: str | None = None, port: int | None = None
) -> uvicorn.Config:
    return uvicorn.Config(
        app, host=host or api.host, port=port if port is not None else api.port, **uvicorn_options(app, api)
    )


class Server(uvicorn.Server):
    """uvicorn's server, listening through :class:`gateway.api.acceptor.Acceptor` on the
    sockets it is given: every waiting connection accepted each turn and, with a
    ``share``, by the process serving the fewest (see that module's description)."""

    def __init__(self, config: uvicorn.Config, share: Share | None = None) -> None:
        # TLS ends at the reverse proxy (docs/deploy.md): no Portico process gives uvicorn a
        # certificate, and the Acceptor's connections would be served in plain text anyway.
        if config.is_ssl:
            raise ValueError(
                "Portico's server speaks plain HTTP behind a TLS proxy: uvicorn's ssl options are not supported"
            )
        super().__init__(config)
        self.share = share

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        if not sockets:  # Portico binds its sockets itself (serve, serve_processes)
            raise ValueError("Portico's server listens on the bound sockets it is given: run(sockets=[...])")
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            sys.exit(STARTUP_FAILURE)
        config = self.config
        loop = asyncio.get_running_loop()
        protocol = config.http_protocol_class
        if self.share is not None:
            protocol = counted(protocol, self.share)

        def create_protocol() -> asyncio.Protocol:
            return protocol(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state, _loop=loop
            )

        for sock in sockets:  # bound, not yet listening (as loop.create_server would, with uvicorn's backlog)
            sock.listen(config.backlog)
        self.servers = [Acceptor(loop, sock, create_protocol, self.share) for sock in sockets]  # type: ignore[misc]
        self.started = True


def serve(app: FastAPI, api: ApiSettings, host: str | None = None, port: int | None = None) -> None:
    """Serve ``app`` until SIGINT or SIGTERM (uvicorn handles both)."""
    config = uvicorn_config(app, api, host, port)
    Server(config).run(sockets=[config.bind_socket()])


def serve_processes(
    build: Callable[[], FastAPI],
    before_fork: Callable[[], None],
    api: ApiSettings,
    processes: int,
    host: str | None = None,
    port: int | None = None,
    after_fork: Callable[[], None] | None = None,
) -> int:
    """Serve from ``processes`` processes sharing one listening socket (each its own app,
    event loop and connections: a request's CPU on every core, not one); the exit status.

    This process binds the socket, calls ``before_fork`` (close every database connection:
    none may be shared across a fork), forks the servers, then calls ``after_fork`` (say, to
    start the sync scheduler here, in one process only) and waits. Sessions, throttles and
    the audit are in the database, so the servers share them as replicas do. SIGTERM or
    SIGINT stops every server (each finishes its requests); a server that dies stops the
    others, and the exit status is non-zero so the service manager restarts the whole set.
    """
    # Bound as uvicorn binds it for its own workers (an inbound socket: nothing here connects out).
    listening = uvicorn.Config(
        build, host=host or api.host, port=port if port is not None else api.port, log_config=None
    )
    sock = listening.bind_socket()
    share = Share(processes)
    before_fork()
    children: list[int] = []
    for index in range(processes):
        pid = os.fork()
        if pid == 0:  # a server: its own app, built after the fork
            status = 1
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                share.index = index
                app = build()
                Server(uvicorn_config(app, api, host, port), share).run(sockets=[sock])
                status = 0
            finally:
                for stream in (sys.stdout, sys.stderr):  # os._exit flushes nothing: the last log lines
                    with contextlib.suppress(Exception):
                        stream.flush()
                os._exit(status)
        children.append(pid)
    sock.close()
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if after_fork is not None:
        after_fork()
    status = 0
    while children:
        try:
            pid, code = os.wait()
        except ChildProcessError:
            break
        if pid not in children:
            continue
        children.remove(pid)
        if not stopping:  # a server died on its own: stop the set, and say so
            status = 1
            stop(signal.SIGTERM, None)
        elif os.waitstatus_to_exitcode(code) not in (0, -signal.SIGTERM):
            status = 1
    return status
