"""The data routes' GETs are served before FastAPI's middleware stack, and answer exactly
as the stack answers them: status, every header in order, body; errors and 500s too."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.testclient import TestClient
from structlog.testing import capture_logs

from config.errors import SnapshotUnavailableError
from gateway.api.app import create_app
from gateway.api.edge import Edge
from gateway.api.routes import records
from gateway.api.routing import DataFirst, DataRoute
from tests.support.world import STUDENT_ROUTES, World
from tests.unit.gateway.api import test_data_routes

# The district on both engines (on PostgreSQL every data request runs on a worker thread).
s = test_data_routes.s
Sent = list[dict[str, Any]]


class Both:
    """One app, called two ways: as served (the edge, then DataFirst) and as before it (the
    edge around FastAPI's whole middleware stack); every message each sends is kept."""

    def __init__(self, s: World) -> None:
        self.app: Any = s.client.app
        self.loop = asyncio.new_event_loop()
        self.stack_calls = 0
        self.call("GET", "/healthz", [])  # builds the middleware stack
        edge = self.app.edge
        assert isinstance(edge, Edge) and isinstance(edge.app, DataFirst)
        self.first: DataFirst = edge.app
        assert self.first.active
        stack = self.first.stack

        async def counted(scope: Any, receive: Any, send: Any) -> None:
            self.stack_calls += 1
            await stack(scope, receive, send)

        self.first.stack = counted
        self.before = Edge(stack, edge.api, edge.counters)

    def call(
        self, method: str, target: str, headers: list[tuple[bytes, bytes]], *, before: bool = False
    ) -> tuple[Sent, BaseException | None, Any]:
        path, _, query = target.partition("?")
        scope: dict[str, Any] = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
            "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
            "headers": [(b"host", b"portico.test"), *headers],
        }  # fmt: skip
        sent: Sent = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        async def run() -> None:
            if before:
                scope["app"] = self.app  # as Starlette's own __call__ sets it
                await self.before(scope, receive, send)
            else:
                await self.app(scope, receive, send)

        error = None
        try:
            self.loop.run_until_complete(run())
        except Exception as exc:  # noqa: BLE001 - compared below: both ways raise the same
            error = exc
        return sent, error, scope.get("route")

    def compare(self, method: str, target: str, headers: list[tuple[bytes, bytes]]) -> Sent:
        """The same request both ways: the same messages, the same error, the same route."""
        calls = self.stack_calls
        served = self.call(method, target, headers)
        data_first = self.stack_calls == calls
        before = self.call(method, target, headers, before=True)
        assert served[0] == before[0], target
        assert type(served[1]) is type(before[1]) and str(served[1]) == str(before[1]), target
        assert served[2] is before[2], target
        # Only a data route's GET skips the stack.
        assert data_first == (method == "GET" and isinstance(served[2], DataRoute)), target
        return served[0]

    def close(self) -> None:
        self.loop.close()


def status(sent: Sent) -> int:
    return int(sent[0]["status"])


def test_every_data_route_and_its_refusals_answer_as_through_the_stack(s: World) -> None:
    c = s.district.cases
    kid = c.student_login
    account = s.ensure_account("student", kid)
    token = s.headers(account.id)["Authorization"].encode()
    parent = s.headers(s.ensure_account("guardian", c.split_household[1]).id)["Authorization"].encode()
    ref, stranger = s.ref("student", kid), s.ref("student", c.split_household[0])
    both = Both(s)
    routes = [f"/v1/students/{ref}{p}" for p in STUDENT_ROUTES] + ["/v1/students", "/v1/notices"]
    statuses: dict[int, int] = {}
    served_first = 0
    for auth in ([(b"authorization", token)], [(b"authorization", parent)]):
        targets = [
            *routes,
            f"/v1/students/{ref}/attendance?from=2000-01-01&to=2000-01-05",
            f"/v1/students/{ref}/attendance?limit=2",
            f"/v1/students/{ref}/attendance?limit=0&from=nonsense",  # 400, both named
            f"/v1/students/{ref}/grades?cursor=not-a-cursor",
            f"/v1/students/{ref}/behaviour?limit=1&limit=x",
            f"/v1/students/{ref}/assignments?class=" + "x" * 30,
            f"/v1/students/{ref}/reports/AAAAAAAAAAAAAAAAAAAAAA",
            f"/v1/students/{stranger}/attendance",  # not yours: the uniform 404
            "/v1/students/AAAAAAAAAAAAAAAAAAAAAA/timetable",  # nobody's
            "/v1/students/not-an-id/grades",
            f"/v1/students/{ref}/attendance/",  # no such route
            f"/v1/students/{ref}/nothing",
        ]
        for target in targets:
            for method in ("GET", "HEAD", "POST"):
                calls = both.stack_calls
                sent = both.compare(method, target, auth)
                statuses[status(sent)] = statuses.get(status(sent), 0) + 1
                served_first += both.stack_calls == calls
    for refused in ([], [(b"authorization", b"Bearer nobody")], [(b"authorization", b"Basic eA==")]):
        for target in routes[:3]:
            sent = both.compare("GET", target, refused)
            assert status(sent) == 401
            statuses[401] = statuses.get(401, 0) + 1
    both.close()
    # Every kind of answer was compared, and the data routes' GETs skipped the stack.
    assert {200, 400, 401, 404, 405} <= set(statuses) and served_first >= 2 * len(routes), statuses


def test_an_unexpected_error_and_an_unpublished_snapshot_answer_as_through_the_stack(
    s: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = s.ensure_account("student", s.district.cases.student_login)
    auth = [(b"authorization", s.headers(account.id)["Authorization"].encode())]
    target = f"/v1/students/{s.ref('student', s.district.cases.student_login)}/timetable"
    both = Both(s)

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("a bug")

    def unpublished(*_: Any, **__: Any) -> Any:
        raise SnapshotUnavailableError("nothing published yet")

    monkeypatch.setattr(records.queries, "atimetable", broken)
    with capture_logs() as logs:
        sent = both.compare("GET", target, auth)
    assert status(sent) == 500 and b"Something went wrong" in sent[1]["body"]
    # Logged once each way, with the route's template and never the path.
    crashes = [e for e in logs if e["event"] == "api.unhandled"]
    assert [e["path_template"] for e in crashes] == ["/v1/students/{student_id}/timetable"] * 2
    monkeypatch.setattr(records.queries, "atimetable", unpublished)
    sent = both.compare("GET", target, auth)
    assert status(sent) == 503 and (b"retry-after", b"60") in sent[0]["headers"]
    both.close()


def test_a_middleware_the_data_first_layer_does_not_know_turns_it_off(s: World) -> None:
    """A layer added to the stack is never skipped: every request goes through the stack."""

    app = create_app(s.config, s.cache, clock=s.clock)

    @app.middleware("http")
    async def tag(request: Any, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers["x-tag"] = "1"
        return response

    account = s.ensure_account("student", s.district.cases.student_login)
    target = f"/v1/students/{s.ref('student', s.district.cases.student_login)}/grades"
    with TestClient(app) as client:
        got = client.get(target, headers=s.headers(account.id))
        assert got.status_code == 200 and got.headers["x-tag"] == "1"
    first = app.edge.app  # type: ignore[attr-defined]
    assert isinstance(first, DataFirst) and not first.active


def test_a_framework_layer_an_upgrade_removed_is_one_no_layer_is_an_instance_of() -> None:
    from gateway.api.routing import framework_layer

    gone = framework_layer("fastapi._no_such_module", "AppBodyLimitMiddleware")
    renamed = framework_layer("fastapi.routing", "NoSuchMiddleware")
    not_a_class = framework_layer("fastapi.routing", "__name__")
    assert gone is renamed is not_a_class
    assert not isinstance(object(), gone)
