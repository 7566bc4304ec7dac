"""OAuth2 client credentials: the token request, caching, expiry and the one refresh on 401."""

from __future__ import annotations

import base64

import httpx
import pytest
import respx

from config.errors import SourceAuthError, SourceDataError
from connectors.http import ReadOnlyClient
from connectors.powerschool.auth import TokenSession

BASE = "https://sis.example.org"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def session(
    router: respx.MockRouter, clock: Clock | None = None, path: str = "/oauth/access_token"
) -> TokenSession:
    client = ReadOnlyClient(BASE, transport=httpx.MockTransport(router.handler), sleep=lambda s: None)
    return TokenSession(client, "demo-id", "demo-secret", token_path=path, clock=clock or Clock())


def tokens(*values: str, expires_in: object = "3600") -> list[httpx.Response]:
    return [
        httpx.Response(200, json={"access_token": v, "token_type": "Bearer", "expires_in": expires_in})
        for v in values
    ]


@pytest.mark.parametrize("path", ["/oauth/access_token", "/oauth/access_token/"])
def test_token_request_uses_basic_auth_and_the_client_credentials_grant(path: str) -> None:
    router = respx.MockRouter(base_url=BASE)
    route = router.post(path).mock(side_effect=tokens("t1"))
    assert session(router, path=path).token() == "t1"
    sent = route.calls.last.request
    assert sent.headers["Authorization"] == "Basic " + base64.b64encode(b"demo-id:demo-secret").decode()
    assert sent.content == b"grant_type=client_credentials"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_the_token_is_cached_until_shortly_before_it_expires() -> None:
    router = respx.MockRouter(base_url=BASE)
    route = router.post("/oauth/access_token").mock(side_effect=tokens("t1", "t2", expires_in="600"))
    clock = Clock()
    s = session(router, clock)
    assert s.token() == "t1"
    clock.now += 500  # still more than the 60 s margin left
    assert s.token() == "t1"
    clock.now += 60  # inside the margin: refresh before the SIS refuses it
    assert s.token() == "t2"
    assert route.call_count == 2


@pytest.mark.parametrize("expires_in", [3600, "3600", 3600.0, None])
def test_expires_in_may_be_a_number_a_string_or_absent(expires_in: object) -> None:
    router = respx.MockRouter(base_url=BASE)
    body = {"access_token": "t", "token_type": "Bearer"}
    if expires_in is not None:
        body["expires_in"] = expires_in  # type: ignore[assignment]
    router.post("/oauth/access_token").mock(return_value=httpx.Response(200, json=body))
    clock = Clock()
    s = session(router, clock)
    s.token()
    clock.now += 3000
    s.token()
    assert s.refreshes == 1


def test_a_non_numeric_expires_in_is_a_data_error() -> None:
    router = respx.MockRouter(base_url=BASE)
    router.post("/oauth/access_token").mock(side_effect=tokens("t", expires_in="soon"))
    with pytest.raises(SourceDataError, match="expires_in"):
        session(router).token()


def test_refused_client_credentials_raise_auth_error_without_the_secret() -> None:
    router = respx.MockRouter(base_url=BASE)
    router.post("/oauth/access_token").mock(
        return_value=httpx.Response(401, json={"error": "invalid_client"})
    )
    with pytest.raises(SourceAuthError) as info:
        session(router).token()
    assert "demo-secret" not in str(info.value)


def test_a_401_from_a_resource_refreshes_the_token_once_and_retries() -> None:
    router = respx.MockRouter(base_url=BASE)
    router.post("/oauth/access_token").mock(side_effect=tokens("old", "new"))
    resource = router.get("/ws/v1/metadata").mock(
        side_effect=[httpx.Response(401), httpx.Response(200, json={"metadata": {}})]
    )
    s = session(router)
    assert s.request("GET", "/ws/v1/metadata").status_code == 200
    used = [call.request.headers["Authorization"] for call in resource.calls]
    assert used == ["Bearer old", "Bearer new"]
    assert s.refreshes == 2


def test_a_second_401_with_a_fresh_token_is_an_auth_error() -> None:
    router = respx.MockRouter(base_url=BASE)
    token_route = router.post("/oauth/access_token").mock(side_effect=tokens("a", "b", "c"))
    router.get("/ws/v1/metadata").mock(return_value=httpx.Response(401))
    with pytest.raises(SourceAuthError, match="401 twice"):
        session(router).request("GET", "/ws/v1/metadata")
    assert token_route.call_count == 2


def test_resource_requests_carry_the_bearer_token() -> None:
    router = respx.MockRouter(base_url=BASE)
    router.post("/oauth/access_token").mock(side_effect=tokens("tok"))
    route = router.post("/ws/schema/query/com.portico.guardians.contacts").mock(
        return_value=httpx.Response(200, json={"record": []})
    )
    session(router).request("POST", "/ws/schema/query/com.portico.guardians.contacts", json={})
    assert route.calls.last.request.headers["Authorization"] == "Bearer tok"
