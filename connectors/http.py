"""Read-only HTTP client for SIS APIs: allow-list, timeouts, retries, error translation.

This is the only module that catches ``httpx`` exceptions. Everything leaving it is
from :mod:`config.errors`::

    httpx.TimeoutException, NetworkError, RemoteProtocolError  -> retried, then SourceUnavailableError
    429, 5xx (Retry-After honoured)                            -> retried, then SourceUnavailableError
    401, 403                                                   -> SourceAuthError
    other 4xx, 3xx, unparsable JSON                            -> SourceDataError
    a request not on the allow-list                            -> ReadOnlyViolation (never sent)

Callers may ask to receive some statuses themselves (``accept=``), e.g. the token
refresh on 401 or the ``Invalid field`` 400 that triggers a full pull.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

import httpx
import orjson
import structlog
import tenacity

from config.errors import ReadOnlyViolation, SourceAuthError, SourceDataError, SourceUnavailableError

AllowRule = tuple[str, str]
log = structlog.get_logger("portico.connectors.http")

# The read allow-list of a PowerSchool-like SIS: plain reads, the token request, and the
# POST that PowerQueries use to *read* (a named, server-defined query; it cannot write).
POWERSCHOOL_ALLOW: tuple[AllowRule, ...] = (
    ("GET", r"/ws/v1(/[A-Za-z0-9_-]+)+"),
    ("GET", r"/ws/schema/table/[A-Za-z0-9_]+(/count)?"),
    ("POST", r"/oauth/access_token/?"),
    ("POST", r"/ws/schema/query/[A-Za-z0-9_.-]+(/count)?"),
)


class ReadOnlyTransport(httpx.BaseTransport):
    """Wraps a transport; refuses any request not on the allow-list before it is sent."""

    def __init__(self, inner: httpx.BaseTransport, base_url: httpx.URL, allow: Iterable[AllowRule]) -> None:
        self._inner = inner
        self._origin = (base_url.scheme, base_url.host, base_url.port)
        self._prefix = base_url.path.rstrip("/")
        self._rules = [(m.upper(), re.compile(p)) for m, p in allow]

    def check(self, request: httpx.Request) -> None:
        url = request.url
        method = request.method.upper()
        path = url.path
        allowed = (url.scheme, url.host, url.port) == self._origin and path.startswith(self._prefix)
        rel = path[len(self._prefix) :]
        # Dot segments could climb out of an allowed prefix once a server normalises them.
        if allowed and any(seg in (".", "..") for seg in rel.split("/")):
            allowed = False
        if allowed:
            allowed = any(m == method and rx.fullmatch(rel) for m, rx in self._rules)
        if not allowed:
            raise ReadOnlyViolation(f"refused {method} {rel or path}: not on the read allow-list")

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.check(request)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    # HTTP-dates have one-second resolution: round up so we never send early.
    return float(max(0, math.ceil(when.timestamp() - now)))


def _transient(exc: BaseException, limit: float) -> bool:
    return isinstance(exc, SourceUnavailableError) and (exc.retry_after or 0.0) <= limit


class ReadOnlyClient:
    """A read-only HTTP client with retries; ``retries`` counts every retry made."""

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        allow: Iterable[AllowRule] = POWERSCHOOL_ALLOW,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_attempts: int = 5,
        backoff_initial: float = 0.5,
        backoff_cap: float = 30.0,
        max_retry_after: float = 300.0,
    ) -> None:
        url = httpx.URL(base_url)
        inner = transport if transport is not None else httpx.HTTPTransport()
        self.transport = ReadOnlyTransport(inner, url, allow)
        self._client = httpx.Client(
            base_url=url, transport=self.transport, timeout=timeout, follow_redirects=False
        )
        self._sleep = sleep
        self._clock = clock
        self.max_attempts = max_attempts
        self._backoff = tenacity.wait_exponential_jitter(
            multiplier=backoff_initial, max=backoff_cap, jitter=1.0
        )
        self.max_retry_after = max_retry_after
        self.retries = 0
        self.requests = 0

    def _wait(self, state: tenacity.RetryCallState) -> float:
        backoff = self._backoff(state)
        exc = state.outcome.exception() if state.outcome else None
        after = exc.retry_after if isinstance(exc, SourceUnavailableError) else None
        # Never send before the time the server named, even if our own backoff is shorter.
        return max(backoff, after or 0.0)

    def _count(self, state: tenacity.RetryCallState) -> None:
        self.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        # The error text names only method, path and status: safe to log.
        log.warning(
            "sis.retry",
            attempt=state.attempt_number,
            wait=round(state.next_action.sleep, 2) if state.next_action else None,
            reason=str(exc),
        )

    def limit(self, *, timeout: float, attempts: int) -> None:
        """Bound every later request to ``timeout`` seconds and ``attempts`` tries."""
        self._client.timeout = httpx.Timeout(timeout)
        self.max_attempts = attempts

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        json: Any = None,
        auth: tuple[str, str] | None = None,
        accept: Collection[int] = (),
    ) -> httpx.Response:
        """Send with retries; returns 2xx responses and any status listed in ``accept``."""
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception(lambda e: _transient(e, self.max_retry_after)),
            sleep=self._sleep,
            before_sleep=self._count,
            reraise=True,
        )
        content = orjson.dumps(json) if json is not None else None
        hdrs = dict(headers or {})
        if content is not None:
            hdrs.setdefault("Content-Type", "application/json")
        request = self._client.build_request(
            method, path, params=params, headers=hdrs, data=data, content=content
        )
        if auth is not None:
            request = next(httpx.BasicAuth(*auth).auth_flow(request))
        return retrying(self._send_once, request, frozenset(accept))

    def _send_once(self, request: httpx.Request, accept: frozenset[int]) -> httpx.Response:
        where = f"{request.method} {request.url.path}"
        self.requests += 1
        try:
            response = self._client.send(request)
        except httpx.TimeoutException:
            raise SourceUnavailableError(f"{where} timed out") from None
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise SourceUnavailableError(f"{where} failed: {type(exc).__name__}") from None
        except httpx.DecodingError:
            raise SourceDataError(f"{where} answered a body that cannot be decoded") from None
        except httpx.HTTPError as exc:
            raise SourceUnavailableError(f"{where} failed: {type(exc).__name__}") from None
        status = response.status_code
        if status in accept or 200 <= status < 300:
            return response
        if status == 429 or status >= 500:
            after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
            raise SourceUnavailableError(f"{where} answered {status}", retry_after=after)
        if status in (401, 403):
            raise SourceAuthError(f"{where} answered {status}: credentials or rights refused")
        raise SourceDataError(f"{where} answered {status}")

    def close(self) -> None:
        self._client.close()


def json_body(response: httpx.Response) -> Any:
    """The response's JSON (orjson); SourceDataError naming the path if it is not JSON."""
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise SourceDataError(
            f"{response.request.method} {response.request.url.path} answered a body that is not JSON"
        ) from None
