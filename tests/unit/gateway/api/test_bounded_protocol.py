"""The HTTP protocol Portico serves with (gateway.api.server.BoundedHttpTools): each limit
of a request's head refused as its bytes arrive, naming the limit, at exactly the limit,
on a connection's first request and on a later one; and the head it hands on the same as
uvicorn's own protocol hands on (its callbacks are written out, not called)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from config.settings import ApiSettings, RequestLimits
from gateway.api import server
from gateway.api.server import bounded_protocol

LIMITS = RequestLimits(url_bytes=256, header_count=8, header_bytes=1024)


class Transport:
    def __init__(self) -> None:
        self.written = b""
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 5000) if name in ("peername", "sockname") else default

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def connection(
    base: type[HttpToolsProtocol], loop: asyncio.AbstractEventLoop
) -> tuple[Any, Transport, list[dict[str, Any]]]:
    """A protocol of class ``base`` on a fake transport; the scopes it would start apps with."""
    started: list[dict[str, Any]] = []

    class Recording(base):  # type: ignore[misc,valid-type]
        def _start_asgi_task(self, cycle: Any, app: Any) -> None:
            started.append(cycle.scope)

    config = uvicorn.Config(FastAPI(), log_config=None)
    config.load()
    protocol = Recording(config=config, server_state=ServerState(), app_state={}, _loop=loop)
    transport = Transport()
    protocol.connection_made(transport)
    return protocol, transport, started


def bounded(loop: asyncio.AbstractEventLoop) -> tuple[Any, Transport, list[dict[str, Any]]]:
    api = ApiSettings(limits=LIMITS)
    return connection(bounded_protocol(api, None), loop)  # type: ignore[arg-type]


def answer(protocol: Any) -> None:
    """The app's answer to the request in hand, as uvicorn's cycle completes it."""
    protocol.cycle.response_complete = True
    protocol.on_response_complete()


def refused(transport: Transport) -> tuple[int, str]:
    """The refusal written: its status and the problem's detail (which names the limit)."""
    assert transport.closed
    head, _, body = transport.written.partition(b"\r\n\r\n")
    assert b"content-type: application/problem+json" in head
    assert b"x-content-type-options: nosniff" in head  # the security headers, as on every answer
    return int(head.split(b" ", 2)[1]), orjson.loads(body)["detail"]


def get(target: bytes, headers: list[bytes]) -> bytes:
    return b"GET " + target + b" HTTP/1.1\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n"


@pytest.mark.parametrize("earlier", [0, 1, 2], ids=["first request", "second", "third"])
def test_each_limit_of_a_head_is_refused_at_exactly_the_limit_naming_it(
    loop: asyncio.AbstractEventLoop, earlier: int
) -> None:
    """On a connection's first request and after ``earlier`` answered ones on it."""
    before = get(b"/healthz", [b"Host: x"])
    path_at_limit = b"/" + b"a" * (LIMITS.url_bytes - 1)
    fields_at_limit = [b"Host: x"] + [b"X-%d: 1" % i for i in range(LIMITS.header_count - 1)]
    size_at_limit = [b"Host: x", b"X-Big: " + b"v" * (LIMITS.header_bytes - len("host") - 1 - len("x-big"))]
    cases = [
        (get(path_at_limit, [b"Host: x"]), get(path_at_limit + b"a", [b"Host: x"]),
         414, f"The URL is longer than {LIMITS.url_bytes} bytes."),
        (get(b"/", fields_at_limit), get(b"/", [*fields_at_limit, b"X-Last: 1"]),
         431, f"The request has more than {LIMITS.header_count} header fields."),
        (get(b"/", size_at_limit), get(b"/", [size_at_limit[0], size_at_limit[1] + b"v"]),
         431, f"The request's header fields are larger than {LIMITS.header_bytes} bytes together."),
    ]  # fmt: skip
    for at_limit, over, status, detail in cases:
        for request in (at_limit, over):
            protocol, transport, started = bounded(loop)
            for _ in range(earlier):
                protocol.data_received(before)
                answer(protocol)
            protocol.data_received(request)
            if request is at_limit:
                assert not transport.closed and len(started) == earlier + 1, detail
            else:
                assert refused(transport) == (status, detail)
                assert len(started) == earlier  # never handed to the app


@pytest.mark.parametrize("earlier", [0, 1, 2], ids=["first request", "second", "third"])
def test_a_header_value_growing_inside_the_parser_is_refused_before_it_is_held(
    loop: asyncio.AbstractEventLoop, earlier: int
) -> None:
    """httptools hands a header over only once its value is complete: a value sent in
    small pieces is refused by the bytes of head received, within the bound, on any
    request of a connection (also after one with a body)."""
    protocol, transport, started = bounded(loop)
    for _ in range(earlier):
        protocol.data_received(get(b"/healthz", [b"Host: x"]))
        answer(protocol)
        # A body the app answered before it came (a refusal that keeps the connection).
        protocol.data_received(b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n")
        answer(protocol)
        protocol.data_received(b"{}")
    bound = LIMITS.url_bytes + LIMITS.header_bytes + server._SLACK
    first = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * (bound // 2)  # counted too
    protocol.data_received(first)
    sent = len(first)
    while not transport.closed:
        protocol.data_received(b"v" * 512)
        sent += 512
        assert sent <= bound + 512, "a head beyond the bound was still being read"
    assert refused(transport) == (
        431,
        f"The request's header fields are larger than {LIMITS.header_bytes} bytes together.",
    )
    assert len(started) == 2 * earlier


def test_a_body_streamed_in_pieces_is_not_counted_as_head(loop: asyncio.AbstractEventLoop) -> None:
    """Only a head's bytes count toward its bound: a body far larger than it, in pieces, is
    the route's to bound (the edge's body limits), and the next request is served."""
    protocol, transport, started = bounded(loop)
    protocol.data_received(
        b"POST /v1/students/x/corrections HTTP/1.1\r\nHost: x\r\nContent-Length: 40000\r\n\r\n"
    )
    for _ in range(40):
        protocol.data_received(b"b" * 1000)
    answer(protocol)
    protocol.data_received(get(b"/healthz", [b"Host: x"]))
    assert not transport.closed and [s["path"] for s in started] == ["/v1/students/x/corrections", "/healthz"]


def test_the_head_handed_on_is_uvicorns_own(loop: asyncio.AbstractEventLoop) -> None:
    """uvicorn's on_url and on_header are written out in BoundedHttpTools (a call through
    super() for each part of every head costs a Python call): the scope it starts the app
    with is the one uvicorn's protocol starts it with, the head in one piece or in many."""
    request = get(
        b"/v1/students/abc/attendance?from=2026-01-01&x=%20y",
        [b"Host: x", b"Authorization: Bearer tok  ", b"X-Mixed-Case: A b\t", b"Expect: 100-Continue",
         b"Content-Length: 0", b"Cookie: a=1", b"Cookie: b=2"],
    )  # fmt: skip
    for pieces in ([request], [request[i : i + 7] for i in range(0, len(request), 7)]):
        scopes = []
        for protocol_class in (HttpToolsProtocol, None):
            protocol, transport, started = (
                connection(protocol_class, loop) if protocol_class else bounded(loop)
            )
            for piece in pieces:
                protocol.data_received(piece)
            assert not transport.closed and len(started) == 1
            scopes.append((started[0], protocol.expect_100_continue))
        ours, theirs = scopes[1], scopes[0]
        assert ours[0]["headers"] == theirs[0]["headers"] and ours[1] == theirs[1] is True
        for key in ("method", "path", "raw_path", "query_string", "http_version"):
            assert ours[0][key] == theirs[0][key], key


def test_uvicorns_callbacks_written_out_here_are_those_of_the_uvicorn_installed() -> None:
    """Fails when an upgrade of uvicorn changes the callbacks BoundedHttpTools writes out:
    then bring the copies in gateway/api/server.py in step, and this text with them."""
    on_url = inspect.getsource(HttpToolsProtocol.on_url)
    on_header = inspect.getsource(HttpToolsProtocol.on_header)
    assert on_url.split("\n", 1)[1].strip() == "self.url += url"
    body = [line.strip() for line in on_header.split("\n")[1:] if line.strip()]
    assert body == [
        "name = name.lower()",
        "# llhttp keeps trailing OWS, which https://www.rfc-editor.org/rfc/rfc9110#section-5.5 excludes from the value.",
        'value = value.rstrip(b" \\t")',
        'if name == b"expect" and value.lower() == b"100-continue":',
        "self.expect_100_continue = True",
        "self.headers.append((name, value))",
    ]
    on_begin = inspect.getsource(HttpToolsProtocol.on_message_begin)
    assert "self.headers = []" in on_begin  # a head's counts start at its first header
    on_complete = inspect.getsource(HttpToolsProtocol.on_message_complete)
    assert "self.cycle.more_body = False" in on_complete  # where data_received sees a request end
