"""Oversize requests to a real ``portico api`` process (uvicorn, httptools) are refused
before they are read, and the server's memory stays flat."""

from __future__ import annotations

from pathlib import Path

from tests.support.edge import api_process, chunked, chunks, raw_request


def test_oversize_requests_to_a_real_server_are_refused_and_leave_its_memory_flat(tmp_path: Path) -> None:
    """Each of the attacks seen against the demo, sent to ``portico api`` (uvicorn, httptools)."""
    login = b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    with api_process(tmp_path) as api:
        for _ in range(3):  # warm up: the first requests grow any process a little
            raw_request(api.port, login + b"Content-Length: 2\r\n\r\n{}")
        before = api.rss_kib()
        # A 50 MB body, declared: answered from the headers alone, before a byte is sent.
        told = raw_request(api.port, login + b"Content-Length: 52428800\r\n\r\n")
        assert told.status == 413 and told.headers["content-type"] == "application/problem+json"
        sent_anyway = raw_request(api.port, login + b"Content-Length: 52428800\r\n\r\n", chunks(50 << 20))
        streamed = raw_request(api.port, login + b"Transfer-Encoding: chunked\r\n\r\n", chunked(200 << 20))
        huge_header = raw_request(
            api.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ", [b"a" * (1 << 20)] * 10
        )
        bearer = raw_request(
            api.port,
            b"GET /v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + b"t" * 100_000 + b"\r\n\r\n",
        )
        many = raw_request(
            api.port,
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-H%d: 1\r\n" % i for i in range(20_000))
            + b"\r\n",
        )
        long_url = raw_request(
            api.port, b"GET /healthz?q=" + b"a" * 1_000_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        after = api.rss_kib()
        assert (
            raw_request(api.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").status == 200
        )  # still serving
    # Bodies the client pushed anyway were cut off long before their end.
    assert sent_anyway.sent < 50 << 20 and streamed.sent < 200 << 20, (sent_anyway.sent, streamed.sent)
    assert sent_anyway.status in (413, None) and streamed.status in (413, None)
    assert huge_header.status == bearer.status == many.status == 431, (huge_header, bearer, many)
    assert long_url.status == 414
    assert bearer.headers["content-type"] == "application/problem+json"
    assert after - before < 16 * 1024, f"RSS grew {after - before} KiB"
