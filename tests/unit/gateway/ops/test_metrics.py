"""/metrics as IT reads it: requests and latency by route template, sign-in failures and
throttles by reason, each sync stage's seconds, and mail sent and failed by kind (through
a real SMTP server). Each figure is scraped after the events it counts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from config.settings import MailSettings
from connectors.base import KnownRows, Page
from gateway.access import accounts
from gateway.ops.mail import CountingMailer, MailError, Message, SmtpMailer
from gateway.ops.metrics import make_registry
from tests.support.connectors import ListConnector, streams
from tests.support.mail import smtp_server
from tests.support.net import free_port
from tests.support.web import Browser, portal
from tests.support.world import World, build_world, cheap_hashing

PAGE_DELAY = 0.05


class SlowSource(ListConnector):
    """A source that takes ``PAGE_DELAY`` to answer each page (the fetch stage)."""

    def read(
        self, stream: str, state: str | None, *, full: bool = False, known: KnownRows | None = None
    ) -> Iterator[Page]:
        for page in super().read(stream, state, full=full, known=known):
            time.sleep(PAGE_DELAY)
            self.pages += 1
            yield page

    pages = 0


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: TestClient) -> tuple[Samples, str]:
    r = client.get("/metrics")
    assert r.status_code == 200, r.text
    samples: Samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples, r.text


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def world(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[World, object]]:
    cheap_hashing(monkeypatch)
    with smtp_server() as (inbox, port):
        w = build_world(
            tmp_path,
            sqlite_url,
            reuse=False,
            mail={"backend": "smtp", "smtp_host": "127.0.0.1", "smtp_port": port},
        )
        try:
            yield w, inbox
        finally:
            w.close()


def test_metrics_count_requests_sign_ins_sync_stages_and_mail(world: tuple[World, object]) -> None:
    w, inbox = world
    mum = w.activate("mum", "guardian", w.district.cases.split_household[1])
    app = w.application()
    with TestClient(app.api(), client=("127.0.0.1", 50000)) as client:
        # Requests by route template: three ids, one template; never the ids themselves.
        for sid in ("AAAAAAAAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBBBBBBBB", "CCCCCCCCCCCCCCCCCCCCCC"):
            assert client.get(f"/v1/students/{sid}").status_code == 401
        assert client.get("/healthz").status_code == 200

        # Sign-in failures by reason, then a throttle.
        assert (
            client.post(
                "/v1/auth/login", json={"username": "nobody@example.org", "password": "x" * 12}
            ).status_code
            == 401
        )
        assert (
            client.post("/v1/auth/login", json={"username": mum, "password": "not the password"}).status_code
            == 401
        )
        statuses = []
        for _ in range(40):
            r = client.post(
                "/v1/auth/login", json={"username": "guesser@example.org", "password": "wrong wrong"}
            )
            statuses.append(r.status_code)
            if r.status_code == 429:
                break
        assert statuses[-1] == 429, statuses
        unknown_before_throttle = statuses.count(401)

        # Mail: a password reset through the real SMTP server, and one refused by a dead server.
        assert client.post("/v1/auth/password-reset", json={"username": mum}).status_code == 202
        assert len(inbox.messages) == 1  # type: ignore[attr-defined]
        dead = CountingMailer(
            SmtpMailer(MailSettings(backend="smtp", smtp_host="127.0.0.1", smtp_port=free_port()), timeout=2),
            w.cache.engine,
        )
        with pytest.raises(MailError):
            dead.send(Message("someone@example.org", "Your account", "Hello", kind="invitation"))

        # A sync whose source takes time to answer each page.
        source = SlowSource("sis", streams(w.district), page_size=200)
        out = app.sync("sis", connector=source, full=True)
        assert out.status == "published"

        samples, text = scrape(client)

    for sid in ("AAAAAAAAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBBBBBBBB", "mum", mum):
        assert sid not in text
    route = "/v1/students/{student_id}"
    assert value(samples, "portico_http_requests_total", route=route, method="GET", status="401") == 3
    assert value(samples, "portico_http_request_duration_seconds_count", route=route, method="GET") == 3
    assert (
        value(samples, "portico_http_request_duration_seconds_bucket", route=route, method="GET", le="+Inf")
        == 3
    )
    assert value(samples, "portico_http_request_duration_seconds_sum", route=route, method="GET") > 0
    assert value(samples, "portico_http_requests_total", route="/healthz", method="GET", status="200") == 1
    assert (
        value(samples, "portico_http_requests_total", route="/v1/auth/login", method="POST", status="429")
        == 1
    )

    assert (
        value(samples, "portico_sign_in_failures_total", channel="api", reason="unknown-user")
        == 1 + unknown_before_throttle
    )
    assert value(samples, "portico_sign_in_failures_total", channel="api", reason="wrong-password") == 1
    assert value(samples, "portico_sign_in_failures_total", channel="web", reason="unknown-user") == 0
    assert value(samples, "portico_sign_in_throttled_total", channel="api", reason="too-many-failures") == 1

    assert value(samples, "portico_mail_sent_total", kind="password-reset") == 1
    assert value(samples, "portico_mail_failed_total", kind="password-reset") == 0
    assert value(samples, "portico_mail_failed_total", kind="invitation") == 1
    assert value(samples, "portico_mail_sent_total", kind="invitation") == 0

    stages = {
        stage: value(samples, "portico_sync_last_run_stage_seconds", connector="sis", stage=stage)
        for stage in ("fetch", "stage", "guards", "publish", "hooks")
    }
    assert stages["fetch"] >= source.pages * PAGE_DELAY, (stages, source.pages)
    assert all(v >= 0 for v in stages.values()) and stages["stage"] > 0 and stages["hooks"] > 0
    assert sum(stages.values()) <= out.seconds + 0.05


def test_portal_sign_in_failures_are_counted_by_reason_without_the_username(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cheap_hashing(monkeypatch)
    for s in portal(tmp_path):
        account = s.ensure_account("guardian", s.district.cases.two_child_contact)
        username = accounts.username_of(s.cache.keyring, account)
        b = Browser(s)
        assert (
            b.post("/sign-in", {"username": "nobody-here@example.org", "password": "a guess 1"}).status_code
            == 400
        )
        assert b.post("/sign-in", {"username": username, "password": "a guess 2"}).status_code == 400
        assert b.post("/sign-in", {"username": username, "password": "a guess 3"}).status_code == 400
        guards = s.client.app.state.portico.guards  # type: ignore[attr-defined]
        text = generate_latest(make_registry(guards)).decode()
        samples = {
            (x.name, tuple(sorted(x.labels.items()))): x.value
            for f in text_string_to_metric_families(text)
            for x in f.samples
        }
        assert value(samples, "portico_sign_in_failures_total", channel="web", reason="unknown-user") == 1
        assert value(samples, "portico_sign_in_failures_total", channel="web", reason="wrong-password") == 2
        assert value(samples, "portico_sign_in_failures_total", channel="api", reason="wrong-password") == 0
        assert username not in text and "nobody-here" not in text


def test_a_method_the_client_invents_is_counted_as_other_never_as_a_new_series(
    world: tuple[World, object],
) -> None:
    w, _ = world
    with TestClient(w.application().api(), client=("127.0.0.1", 50000)) as client:
        for i in range(5):
            client.request(f"BREW{i}", "/healthz")
        client.request("GET", "/healthz")
        samples, body = scrape(client)
    assert "BREW" not in body
    assert value(samples, "portico_http_requests_total", route="/healthz", method="other", status="405") == 5
    assert value(samples, "portico_http_requests_total", route="/healthz", method="GET", status="200") >= 1
