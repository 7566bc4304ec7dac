"""OAuth2 client credentials for a PowerSchool-like SIS, with one refresh on 401."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

import httpx
import structlog

from config.errors import SourceAuthError, SourceDataError
from connectors.http import ReadOnlyClient, json_body

log = structlog.get_logger("portico.connectors.powerschool")
TOKEN_PATH = "/oauth/access_token"  # noqa: S105 - a URL path, not a password


class TokenSession:
    """Sends resource requests with a cached bearer token.

    The token is reused until ``margin`` seconds before it expires. A 401 from a
    resource drops it and retries the request once with a fresh token (tokens expire
    mid-run); a second 401 means the credentials or rights are wrong: SourceAuthError.
    """

    def __init__(
        self,
        client: ReadOnlyClient,
        client_id: str,
        client_secret: str,
        *,
        token_path: str = TOKEN_PATH,
        margin: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self._credentials = (client_id, client_secret)
        self._token_path = token_path
        self._margin = margin
        self._clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self.refreshes = 0
        # The token endpoint's Date header, last seen (``portico doctor`` compares clocks).
        self.server_date: str | None = None

    def token(self) -> str:
        if self._token is None or self._clock() >= self._expires:
            self._fetch()
        assert self._token is not None
        return self._token

    def invalidate(self) -> None:
        self._token = None

    def _fetch(self) -> None:
        response = self.client.request(
            "POST",
            self._token_path,
            data={"grant_type": "client_credentials"},
            auth=self._credentials,
            headers={"Accept": "application/json"},
            accept=(400, 401),
        )
        self.server_date = response.headers.get("date")
        if response.status_code in (400, 401):
            raise SourceAuthError(f"token endpoint {self._token_path} refused the client credentials")
        body = json_body(response)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise SourceDataError(f"token endpoint {self._token_path} answered without an access_token")
        lifetime = _seconds(body.get("expires_in"))
        now = self._clock()
        self._token = token
        # Refresh a little early, but never treat a short-lived token as already expired.
        self._expires = now + max(lifetime - self._margin, lifetime / 2)
        self.refreshes += 1

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        accept: Collection[int] = (),
    ) -> httpx.Response:
        """A resource request with the bearer token; refreshes once on 401."""
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.token()}", "Accept": "application/json"}
            response = self.client.request(
                method, path, params=params, json=json, headers=headers, accept={401, *accept}
            )
            if response.status_code != 401:
                return response
            self.invalidate()
            if attempt == 2:
                break
            log.info("sis.token_rejected", path=path, action="refresh once and retry")
        raise SourceAuthError(f"{method} {path} answered 401 twice, even with a fresh token")


def _seconds(value: object) -> float:
    """``expires_in`` as seconds: sometimes a number, sometimes a string; absent means an hour."""
    if value is None or value == "":
        return 3600.0
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SourceDataError("token endpoint answered an expires_in that is not a number") from None
    if seconds <= 0:
        raise SourceDataError("token endpoint answered an expires_in that is not positive")
    return seconds
