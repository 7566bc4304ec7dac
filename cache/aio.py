"""EXPERIMENT: PostgreSQL hot reads awaited on the serving event loop (psycopg's async
connection), so a data request's Python stays on one thread."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg

_CURSOR = "_portico_acursor"


class LoopPool:
    """A few autocommit async connections for one event loop."""

    def __init__(self, url: str, size: int = 4) -> None:
        self.url = url
        self.size = size
        self._idle: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
        self._made = 0

    async def take(self) -> psycopg.AsyncConnection[Any]:
        if self._idle.empty() and self._made < self.size:
            self._made += 1
            return await psycopg.AsyncConnection.connect(self.url, autocommit=True)
        return await self._idle.get()

    def give(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._idle.put_nowait(conn)


async def afetch(aconn: Any, sql: str, bound: Any) -> list[tuple[Any, ...]]:
    cur = getattr(aconn, _CURSOR, None)
    if cur is None or cur.closed:
        cur = aconn.cursor()
        setattr(aconn, _CURSOR, cur)
    await cur.execute(sql, bound, binary=True)
    return await cur.fetchall()  # type: ignore[no-any-return]
