"""Reading declared tables and queries from a PowerSchool server, page by page.

Every list is read by first asking its ``/count`` and then fetching exactly the pages that
count implies (:class:`~connectors.powerschool.paging.Pager`). A table read sends the
declared projection and filters; a refusal naming one of them is turned into
:class:`~connectors.powerschool.errors.FieldRefusedError` (table, field, what to grant),
except a refusal of the incremental cursor column, which :class:`CursorRefused` reports so
the caller reads that table in full instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from config.errors import SourceDataError
from connectors.http import json_body
from connectors.powerschool import errors, paging, wire
from connectors.powerschool.auth import TokenSession
from connectors.powerschool.declare import Query, Read

Rows = list[dict[str, Any]]


class CursorRefused(Exception):
    """The server refused the incremental cursor column of ``table`` (absent or not granted)."""

    def __init__(self, table: str) -> None:
        super().__init__(table)
        self.table = table


@dataclass
class Sent:
    """One request the reader made: for tests and the request count."""

    method: str
    path: str
    params: dict[str, Any]


class Reader:
    """Reads pages of declared sources through a token session."""

    def __init__(
        self,
        session: TokenSession,
        pager: paging.Pager,
        page_size: Callable[[str], int],
        on_request: Callable[[Sent], None] | None = None,
    ) -> None:
        self.session = session
        self.pager = pager
        self.page_size = page_size
        self.on_request = on_request

    # --- one request ---------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        refusable: Sequence[str],
        table: str,
        cursor: str | None,
    ) -> Any:
        if self.on_request is not None:
            self.on_request(Sent(method, path, dict(params)))
        response: httpx.Response = self.session.request(
            method, path, params=params, json={} if method == "POST" else None, accept=(400, 403, 404)
        )
        status = response.status_code
        if status in (400, 403, 404):
            self._refusal(method, path, status, response.content, refusable, table, cursor)
        return json_body(response)

    @staticmethod
    def _refusal(
        method: str,
        path: str,
        status: int,
        content: bytes,
        refusable: Sequence[str],
        table: str,
        cursor: str | None,
    ) -> None:
        endpoint = f"{method} {path}"
        text = errors.body_text(content)
        if path.startswith("/ws/schema/query/"):
            named = errors.query_field(text)
            if named is not None:
                raise errors.FieldRefusedError(endpoint, named[0], named[1], status)
            if status == 404:
                raise errors.NotInstalledError(
                    f"{endpoint} answered 404: the named query is not installed; {errors.PLUGIN_HINT}"
                )
            raise errors.refused(endpoint, status)
        if status == 404:
            raise errors.NotInstalledError(
                f"{endpoint} answered 404: table {table.upper()} is not on this server"
                if path.startswith("/ws/schema/table/")
                else f"{endpoint} answered 404"
            )
        field = errors.named_field(text, table, refusable)
        if field is not None and field == cursor:
            raise CursorRefused(table)
        if field is not None:
            raise errors.FieldRefusedError(endpoint, table, field, status)
        raise errors.refused(endpoint, status)

    # --- /ws/v1 -----------------------------------------------------------------------------

    def v1_list(
        self, path: str, plural: str, singular: str, cap_key: str
    ) -> Iterator[tuple[int, Rows, bool]]:
        count = wire.v1_count(self._send("GET", path + "/count", {}, (), "", None))
        size = self.page_size(cap_key)

        def fetch(page: int) -> Rows:
            body = self._send("GET", path, {"page": page, "pagesize": size}, (), "", None)
            try:
                return wire.v1_items(body, plural, singular)
            except wire.BadShape:
                raise SourceDataError(f"GET {path} page {page}: the body is not a {plural} list") from None

        return self.pager.pages(path, fetch, count, size)

    # --- /ws/schema/table ---------------------------------------------------------------------

    def count(self, read: Read, clauses: Sequence[str], cursor: str | None = None) -> int:
        path = f"/ws/schema/table/{read.table}/count"
        params = {"q": ";".join(clauses)} if clauses else {}
        body = self._send("GET", path, params, _named(read, clauses), read.table, cursor)
        try:
            return wire.schema_count(body)
        except wire.BadShape:
            raise SourceDataError(f"GET {path} answered without a count") from None

    def table(
        self,
        read: Read,
        columns: Sequence[str],
        clauses: Sequence[str],
        cap_key: str,
        cursor: str | None = None,
    ) -> tuple[int, Iterator[tuple[int, Rows, bool]]]:
        """(count, pages) of a table read: pages of column dicts as (first position, rows, last)."""
        unknown = set(columns) - read.fields()
        if unknown:  # a programming error: every column sent must be declared (and so granted)
            raise ValueError(f"{read.table}: {', '.join(sorted(unknown))} not declared")
        count = self.count(read, clauses, cursor)
        path = f"/ws/schema/table/{read.table}"
        size = self.page_size(cap_key)
        params: dict[str, Any] = {"projection": ",".join(columns)}
        if clauses:
            params["q"] = ";".join(clauses)
        refusable = sorted({*columns, *_named(read, clauses)})

        def fetch(page: int) -> Rows:
            body = self._send(
                "GET", path, {**params, "page": page, "pagesize": size}, refusable, read.table, cursor
            )
            try:
                return wire.table_rows(body, read.table)
            except wire.BadShape:
                raise SourceDataError(f"GET {path} page {page}: the body is not a table page") from None

        return count, self.pager.pages(read.table, fetch, count, size)

    # --- /ws/schema/query ------------------------------------------------------------------------

    def query(self, query: Query, cap_key: str) -> tuple[int, Iterator[tuple[int, Rows, bool]]]:
        path = f"/ws/schema/query/{query.name}"
        body = self._send("POST", path + "/count", {}, (), query.core_table, None)
        try:
            count = wire.schema_count(body)
        except wire.BadShape:
            raise SourceDataError(f"POST {path}/count answered without a count") from None
        size = self.page_size(cap_key)

        def fetch(page: int) -> Rows:
            body = self._send("POST", path, {"page": page, "pagesize": size}, (), query.core_table, None)
            try:
                return wire.query_rows(body)
            except wire.BadShape:
                raise SourceDataError(f"POST {path} page {page}: the body is not a query page") from None

        return count, self.pager.pages(query.name, fetch, count, size)


def _named(read: Read, clauses: Sequence[str]) -> list[str]:
    """The columns a ``q=`` names (each clause starts with its column)."""
    out = []
    for clause in clauses:
        name = ""
        for ch in clause:
            if not (ch.isalnum() or ch == "_"):
                break
            name += ch
        out.append(name.lower())
    unknown = set(out) - read.fields()
    if unknown:
        raise ValueError(f"{read.table}: filter on {', '.join(sorted(unknown))} not declared")
    return out
