"""The edge: every request bounded, the client and scheme from trusted proxies only,
default security headers on every answer, and one access line per request.

:class:`Edge` wraps the whole application, outside even the handler of unexpected
errors, so whatever answers (a route, a problem handler, the 500 handler) passes it:

- **Limits** (``api.limits``): the URL, the number and total size of header fields, and
  the body per route. A declared ``Content-Length`` over the route's limit is refused
  with 413 before the application is called; a chunked body is counted as it streams and
  refused the moment it passes the limit (the application sees the client leave). Each
  refusal is ``application/problem+json`` and closes the connection, so the rest of an
  oversize body is never read. The server itself (:mod:`gateway.api.server`) refuses
  header fields that outgrow these limits before they are even parsed.
- **NUL**: a path holding a NUL character (``%00``) gets the uniform 404 (no id holds
  one), a query the 400 naming its parameter, before any route reads them
  (:data:`gateway.api.params.NUL`).
- **Proxies** (``api.trusted_proxies``): only a peer in that list may say who the client
  is (``X-Forwarded-For``) and whether it came over HTTPS (``X-Forwarded-Proto``);
  everyone else's forwarding headers are ignored.
- **Headers**: ``X-Content-Type-Options: nosniff`` and, unless the response set its own,
  ``Cache-Control: no-store`` on every answer; HSTS on answers to HTTPS requests; a
  Content-Security-Policy with ``frame-ancestors`` on every HTML page. A header a route
  or page sets itself is kept (a page may be stricter, or need its own policy); a page's
  policy without ``frame-ancestors`` gets ``frame-ancestors 'none'`` added. A redirect
  whose ``Location`` names the request's own ``Host`` is made relative, so no redirect is
  ever built from a header the client chose.
- **Access log**: method, route template (never the ids in the path), status and time.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

import orjson
import structlog
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from config.settings import ApiSettings, RequestLimits
from gateway.api.params import NUL, NUL_IN_QUERY, holds_nul, may_hold_nul, nul_pair
from gateway.api.problems import Problem, not_found, problem_response
from gateway.ops.metrics import GuardCounters

log = structlog.get_logger("portico.http")
# The level configure_logging set (the root logger's): whether access lines are wanted.
_LEVEL = logging.getLogger("portico.http")

Headers = list[tuple[bytes, bytes]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# For HTML pages that set no policy of their own: nothing but the page's own origin,
# no plugins, forms only to itself, never inside another site's frame.
HTML_CSP = (
    b"default-src 'self'; base-uri 'none'; object-src 'none'; form-action 'self'; frame-ancestors 'none'"
)
_DIGITS = re.compile(rb"[0-9]{1,18}")
_REFUSALS = {
    # reason: (status, problem type, title, detail with the limit)
    "url": (414, "uri-too-long", "URI too long", "The URL is longer than {limit} bytes."),
    "header-count": (
        431,
        "header-fields-too-large",
        "Request header fields too large",
        "The request has more than {limit} header fields.",
    ),
    "header-bytes": (
        431,
        "header-fields-too-large",
        "Request header fields too large",
        "The request's header fields are larger than {limit} bytes together.",
    ),
    "body": (413, "content-too-large", "Content too large", "The request body is larger than {limit} bytes."),
    "content-length": (400, "invalid-request", "Invalid request", "content-length: not a number of bytes."),
}


def refusal(reason: str, limit: int) -> tuple[int, Headers, bytes]:
    """Status, headers and problem body refusing a request for ``reason`` (closes the connection)."""
    status, type_, title, detail = _REFUSALS[reason]
    body = orjson.dumps(
        {"type": type_, "title": title, "status": status, "detail": detail.format(limit=limit)}
    )
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    return status, headers, body


def nul_problem(scope: Scope) -> Problem | None:
    """The answer to a request whose path or query holds a NUL character, or None."""
    if NUL in scope["path"]:
        return not_found()
    query: bytes = scope.get("query_string", b"")
    if query and may_hold_nul(query, NUL_IN_QUERY):
        # Decoded as Starlette decodes it for the routes (QueryParams).
        field = nul_pair(parse_qsl(query.decode("latin-1"), keep_blank_values=True), "query")
        if field is not None:
            return holds_nul(field)
    return None


def security_headers(headers: Headers, *, https: bool, hsts: bytes) -> Headers:
    """``headers`` with Portico's defaults added where the response did not set its own."""
    names: dict[bytes, int] = {}
    for i, (name, _) in enumerate(headers):
        names.setdefault(name.lower(), i)
    out = list(headers)
    if b"x-content-type-options" not in names:
        out.append((b"x-content-type-options", b"nosniff"))
    if b"cache-control" not in names:
        out.append((b"cache-control", b"no-store"))
    if https and b"strict-transport-security" not in names:
        out.append((b"strict-transport-security", hsts))
    ctype = headers[names[b"content-type"]][1] if b"content-type" in names else b""
    if ctype.lower().startswith(b"text/html"):
        if b"content-security-policy" not in names:
            out.append((b"content-security-policy", HTML_CSP))
        else:
            i = names[b"content-security-policy"]
            policy = out[i][1]
            if b"frame-ancestors" not in policy.lower():
                out[i] = (out[i][0], policy.rstrip(b"; ") + b"; frame-ancestors 'none'")
        if b"x-frame-options" not in names:
            out.append((b"x-frame-options", b"DENY"))
        if b"referrer-policy" not in names:
            out.append((b"referrer-policy", b"no-referrer"))
    return out


def relative_location(location: bytes, host: bytes | None) -> bytes:
    """A redirect target built from the request's own Host header, made relative."""
    if host is None or not location.lower().startswith((b"http://", b"https://", b"//")):
        return location
    try:
        parts = urlsplit(location.decode("latin-1"))
    except ValueError:
        return b"/"
    if parts.netloc.lower() != host.decode("latin-1").lower():
        return location
    path = parts.path or "/"
    return (path + ("?" + parts.query if parts.query else "")).encode("latin-1")


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(e, strict=False) for e in entries)


def _address(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    raw = raw.strip()
    if raw.startswith("["):  # [v6]:port
        raw = raw[1 : raw.find("]")] if "]" in raw else ""
    elif raw.count(":") == 1:  # v4:port
        raw = raw.split(":", 1)[0]
    try:
        return ipaddress.ip_address(raw)
    except ValueError:
        return None


@dataclass
class _Exchange:
    """One request's answer as it goes out: defaults added, refusals sent, status noted."""

    send: Send
    https: bool
    hsts: bytes
    host: bytes | None
    status: int = 0
    refused: str | None = None

    async def __call__(self, message: Message) -> None:
        if self.refused is not None:
            return  # the edge answered already: the application's late answer goes nowhere
        if message["type"] == "http.response.start":
            self.status = message["status"]
            headers = security_headers(list(message.get("headers", [])), https=self.https, hsts=self.hsts)
            if 300 <= self.status < 400:
                headers = [
                    (n, relative_location(v, self.host)) if n.lower() == b"location" else (n, v)
                    for n, v in headers
                ]
            message = {**message, "headers": headers}
        await self.send(message)

    async def refuse(self, reason: str, limit: int) -> None:
        status, headers, body = refusal(reason, limit)
        await self({"type": "http.response.start", "status": status, "headers": headers})
        await self({"type": "http.response.body", "body": body})
        self.refused = reason


@dataclass
class Edge:
    """The ASGI middleware around the whole application (see the module's description)."""

    app: ASGIApp
    api: ApiSettings
    counters: GuardCounters = field(default_factory=GuardCounters)

    def __post_init__(self) -> None:
        self.limits: RequestLimits = self.api.limits
        self.trusted = parse_networks(self.api.trusted_proxies)
        self.hsts = f"max-age={int(self.api.hsts_max_age.total_seconds())}".encode()
        self.body_routes = [
            (compile_path(template)[0], limit) for template, limit in self.api.limits.route_body_bytes.items()
        ]

    def body_limit(self, path: str) -> int:
        for pattern, limit in self.body_routes:
            if pattern.match(path):
                return limit
        return self.limits.body_bytes

    def _is_trusted(self, host: str) -> bool:
        ip = _address(host)
        return ip is not None and any(ip in net for net in self.trusted)

    def forwarded(self, scope: Scope, xff: bytes | None, proto: bytes | None) -> None:
        """Believe ``X-Forwarded-*`` from a trusted proxy only: the client is the nearest
        address in ``X-Forwarded-For`` that is not a trusted proxy itself."""
        client = scope.get("client")
        if not self.trusted or not client or not self._is_trusted(client[0]):
            return
        if xff:
            address = client[0]
            for hop in reversed(xff.decode("latin-1").split(",")):
                ip = _address(hop)
                if ip is None:
                    break
                address = str(ip)
                if not any(ip in net for net in self.trusted):
                    break
            scope["client"] = (address, 0)
        if proto:
            scheme = proto.decode("latin-1").split(",")[-1].strip().lower()
            if scheme in ("http", "https"):
                scope["scheme"] = scheme

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method = scope["method"]
        limits = self.limits
        headers = scope["headers"]
        size = 0
        length = xff = proto = host = None
        chunked = False
        for name, value in headers:
            size += len(name) + len(value)
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"host":
                host = value
            elif name == b"x-forwarded-for":
                xff = value if xff is None else xff + b"," + value
            elif name == b"x-forwarded-proto":
                proto = value
        self.forwarded(scope, xff, proto)
        exchange = _Exchange(send, scope.get("scheme") == "https", self.hsts, host)
        reason, limit = None, 0
        url = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string", b""))
        if url > limits.url_bytes:
            reason, limit = "url", limits.url_bytes
        elif len(headers) > limits.header_count:
            reason, limit = "header-count", limits.header_count
        elif size > limits.header_bytes:
            reason, limit = "header-bytes", limits.header_bytes
        elif length is not None or chunked:
            limit = self.body_limit(scope["path"])
            if length is not None:
                if not _DIGITS.fullmatch(length):
                    reason = "content-length"
                elif int(length) > limit:
                    reason = "body"
            if reason is None:
                receive = self._counted(receive, exchange, limit)
        try:
            if reason is not None:
                self.counters.refuse(reason)
                await exchange.refuse(reason, limit)
                return
            nul = nul_problem(scope)
            if nul is not None:
                await problem_response(nul)(scope, receive, exchange)
                return
            try:
                await self.app(scope, receive, exchange)
            except Exception:
                if exchange.refused is None:
                    raise  # the application's own failure: answered (500) and logged by it
        finally:
            route = getattr(scope.get("route"), "path", None)
            if exchange.status == 429:
                self.counters.throttle(route or "-")
            elapsed = time.perf_counter() - started
            self.counters.request(route or "-", method, exchange.status, elapsed)
            if _LEVEL.isEnabledFor(logging.INFO):  # cheap; a filtered structlog call is not
                log.info(
                    "http.request",
                    method=method,
                    route=route or "-",
                    status=exchange.status,
                    ms=round(elapsed * 1000, 1),
                    **({"refused": exchange.refused} if exchange.refused else {}),
                )

    def _counted(self, receive: Receive, exchange: _Exchange, limit: int) -> Receive:
        total = 0

        async def counted() -> Message:
            nonlocal total
            if exchange.refused is not None:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                total += len(message.get("body", b""))
                if total > limit:
                    if exchange.status == 0:
                        self.counters.refuse("body")
                        await exchange.refuse("body", limit)
                    return {"type": "http.disconnect"}
            return message

        return counted
