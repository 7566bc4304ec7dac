"""The read-only HTTP client: allow-list, retries with Retry-After, error translation."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from config.errors import ReadOnlyViolation, SourceAuthError, SourceDataError, SourceUnavailableError
from connectors.http import ReadOnlyClient, json_body, parse_retry_after

BASE = "https://sis.example.org"


class Recorder:
    """A transport handler that answers from a script and records what reached it."""

    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.script = list(responses)
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        item = self.script.pop(0) if self.script else httpx.Response(200, json={})
        if isinstance(item, Exception):
            raise item
        return item


def make(handler: Recorder, sleeps: list[float] | None = None, **kw: object) -> ReadOnlyClient:
    record = sleeps if sleeps is not None else []
    return ReadOnlyClient(BASE, transport=httpx.MockTransport(handler), sleep=record.append, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/ws/v1/student/1"),
        ("DELETE", "/ws/v1/student/1"),
        ("PATCH", "/ws/v1/student/1"),
        ("POST", "/ws/v1/student"),
        ("POST", "/ws/schema/table/students"),
        ("GET", "/admin/home.html"),
        ("GET", "/ws/v1/../../admin"),
        ("DELETE", "/oauth/access_token"),
    ],
)
def test_requests_off_the_allow_list_never_reach_the_transport(method: str, path: str) -> None:
    handler = Recorder()
    client = make(handler)
    with pytest.raises(ReadOnlyViolation):
        client.request(method, path)
    assert handler.seen == []


def test_reads_token_requests_and_powerqueries_are_allowed() -> None:
    handler = Recorder()
    client = make(handler)
    client.request("GET", "/ws/v1/district/school/count")
    client.request("GET", "/ws/schema/table/attendance", params={"q": "att_date=ge=2026-08-26"})
    client.request("POST", "/oauth/access_token/", data={"grant_type": "client_credentials"})
    client.request("POST", "/oauth/access_token")
    client.request("POST", "/ws/schema/query/com.portico.guardians.contacts/count", json={})
    assert [r.method for r in handler.seen] == ["GET", "GET", "POST", "POST", "POST"]


def test_a_request_to_another_host_is_refused() -> None:
    handler = Recorder()
    client = make(handler)
    with pytest.raises(ReadOnlyViolation):
        client.request("GET", "https://elsewhere.example.org/ws/v1/metadata")
    assert handler.seen == []


def test_a_base_url_with_a_path_prefix_applies_the_list_below_it() -> None:
    handler = Recorder()
    client = ReadOnlyClient(
        f"{BASE}/powerschool", transport=httpx.MockTransport(handler), sleep=lambda s: None
    )
    client.request("GET", "ws/v1/metadata")
    assert handler.seen[0].url.path == "/powerschool/ws/v1/metadata"
    with pytest.raises(ReadOnlyViolation):
        client.request("PUT", "ws/v1/metadata")


def test_429_waits_at_least_the_retry_after_seconds_then_succeeds() -> None:
    handler = Recorder(
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(429, headers={"Retry-After": "3"}),
        httpx.Response(200, json={"ok": 1}),
    )
    sleeps: list[float] = []
    client = make(handler, sleeps, backoff_cap=1.0)
    response = client.request("GET", "/ws/v1/metadata")
    assert response.status_code == 200
    assert len(sleeps) == 2 and sleeps[0] >= 7 and sleeps[1] >= 3
    assert client.retries == 2


def test_retry_after_as_an_http_date_is_never_undercut() -> None:
    now = 1_800_000_000.0
    when = email.utils.formatdate(now + 42.5, usegmt=True)
    handler = Recorder(httpx.Response(503, headers={"Retry-After": when}), httpx.Response(200))
    sleeps: list[float] = []
    client = make(handler, sleeps, clock=lambda: now, backoff_cap=1.0)
    client.request("GET", "/ws/v1/metadata")
    assert sleeps and sleeps[0] >= 42


def test_a_retry_after_beyond_the_limit_gives_up_at_once_and_says_when_to_come_back() -> None:
    handler = Recorder(httpx.Response(429, headers={"Retry-After": "3600"}))
    sleeps: list[float] = []
    client = make(handler, sleeps, max_retry_after=60)
    with pytest.raises(SourceUnavailableError) as info:
        client.request("GET", "/ws/v1/metadata")
    assert info.value.retry_after == 3600 and sleeps == []


def test_a_burst_of_5xx_is_retried_with_capped_growing_backoff() -> None:
    handler = Recorder(*(httpx.Response(502) for _ in range(4)), httpx.Response(200))
    sleeps: list[float] = []
    client = make(handler, sleeps, max_attempts=5, backoff_initial=1.0, backoff_cap=3.0)
    assert client.request("GET", "/ws/v1/metadata").status_code == 200
    assert len(sleeps) == 4 and all(0 < s <= 3.0 for s in sleeps)
    assert sleeps[0] < 2.0  # first wait: initial + jitter < 2
    assert client.retries == 4


def test_persistent_5xx_ends_in_source_unavailable_without_the_body() -> None:
    handler = Recorder(*(httpx.Response(500, text="secret stack trace") for _ in range(3)))
    client = make(handler, max_attempts=3)
    with pytest.raises(SourceUnavailableError) as info:
        client.request("GET", "/ws/v1/metadata")
    assert "500" in str(info.value) and "secret" not in str(info.value)
    assert len(handler.seen) == 3


@pytest.mark.parametrize(
    "exc",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("peer closed")],
)
def test_connection_failures_and_timeouts_are_retried(exc: Exception) -> None:
    handler = Recorder(exc, httpx.Response(200))
    client = make(handler)
    assert client.request("GET", "/ws/v1/metadata").status_code == 200
    assert client.retries == 1


def test_unreachable_source_becomes_source_unavailable_after_all_attempts() -> None:
    handler = Recorder(*(httpx.ConnectError("refused") for _ in range(2)))
    client = make(handler, max_attempts=2)
    with pytest.raises(SourceUnavailableError):
        client.request("GET", "/ws/v1/metadata")


def test_401_and_403_are_auth_errors_and_other_4xx_are_data_errors() -> None:
    client = make(Recorder(httpx.Response(401), httpx.Response(403), httpx.Response(404)))
    with pytest.raises(SourceAuthError):
        client.request("GET", "/ws/v1/metadata")
    with pytest.raises(SourceAuthError):
        client.request("GET", "/ws/v1/metadata")
    with pytest.raises(SourceDataError):
        client.request("GET", "/ws/v1/metadata")
    assert client.retries == 0


def test_statuses_the_caller_accepts_are_returned_not_raised() -> None:
    client = make(Recorder(httpx.Response(400, json={"message": "Invalid field transaction_date"})))
    response = client.request("GET", "/ws/schema/table/cc", accept={400})
    assert json_body(response) == {"message": "Invalid field transaction_date"}


def test_a_body_that_is_not_json_is_a_data_error_naming_the_path() -> None:
    client = make(Recorder(httpx.Response(200, text="<html>maintenance</html>")))
    response = client.request("GET", "/ws/v1/metadata")
    with pytest.raises(SourceDataError, match="/ws/v1/metadata") as info:
        json_body(response)
    assert "maintenance" not in str(info.value)


def test_retry_after_parsing_accepts_seconds_and_dates_and_ignores_junk() -> None:
    assert parse_retry_after("12", 0) == 12
    assert parse_retry_after(email.utils.formatdate(100.0, usegmt=True), 90.5) == 10
    assert parse_retry_after(email.utils.formatdate(50.0, usegmt=True), 90.0) == 0
    assert parse_retry_after("soon", 0) is None
    assert parse_retry_after(None, 0) is None


def test_retries_are_logged_without_query_strings_or_bodies() -> None:
    from structlog.testing import capture_logs

    handler = Recorder(httpx.Response(503, text="Ada Okafor's record"), httpx.Response(200))
    with capture_logs() as logs:
        make(handler).request("GET", "/ws/schema/table/attendance", params={"q": "studentid==000123"})
    (event,) = [e for e in logs if e["event"] == "sis.retry"]
    assert "/ws/schema/table/attendance" in event["reason"] and "503" in event["reason"]
    assert "000123" not in repr(event) and "Ada" not in repr(event)
