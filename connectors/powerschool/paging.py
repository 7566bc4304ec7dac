"""Count-driven paging with one page read ahead, and the incremental cursor."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from config.errors import SourceChangedError, SourceDataError
from connectors.powerschool.values import parse_stamp

Rows = list[dict[str, Any]]


class Pager:
    """Fetches the pages a count implies, the next one while the caller works on this one."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._executor: ThreadPoolExecutor | None = None

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"ps-{self._name}")
        return self._executor

    def pages(
        self, stream: str, fetch: Callable[[int], Rows], count: int, size: int
    ) -> Iterator[tuple[int, Rows, bool]]:
        """(position of the first row, rows, is last) per page.

        SourceDataError if a page holds other than the rows the count implies: the source
        changed or miscounted, and a partial stream must not be published.
        """
        total = math.ceil(count / size)
        # A count that ends on a page boundary (or is 0) cannot show an undercount by a
        # short page, so the page after the last is asked for too and must be empty.
        probe = count % size == 0
        # Only one request is ever in flight, so the token session needs no lock.
        pending: Future[Rows] | None = self._pool().submit(fetch, 1) if total or probe else None
        try:
            for page in range(1, total + 1):
                assert pending is not None
                rows = pending.result()
                last = page == total
                pending = self._pool().submit(fetch, page + 1) if not last or probe else None
                expected = min(size, count - (page - 1) * size)
                if len(rows) != expected:
                    raise SourceChangedError(
                        f"stream {stream} page {page}: {len(rows)} rows where /count promised "
                        f"{expected}; the source changed or miscounted, so the stream is not published"
                    )
                if last and pending is not None:
                    self._expect_empty(stream, pending, page + 1)
                    pending = None
                yield (page - 1) * size + 1, rows, last
            if total == 0 and pending is not None:
                self._expect_empty(stream, pending, 1)
                pending = None
        finally:
            # Abandoned early: let the read in flight finish before anyone sends another.
            if pending is not None and not pending.cancel():
                pending.exception()

    @staticmethod
    def _expect_empty(stream: str, pending: Future[Rows], page: int) -> None:
        if pending.result():
            raise SourceDataError(
                f"stream {stream} page {page}: rows beyond what /count promised; "
                "the source changed or miscounted, so the stream is not published"
            )

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


def later(a: str, b: str) -> bool:
    """Whether timestamp ``a`` is after ``b``; the same layout compares as text (cheap)."""
    if len(a) == len(b) and a[10:11] == b[10:11] and a[-6:-5] not in "+-" and b[-6:-5] not in "+-":
        return a > b
    when_a, when_b = parse_stamp(a), parse_stamp(b)
    return when_a is not None and (when_b is None or when_a > when_b)


def latest(rows: Rows, column: str, cursor: str | None) -> str | None:
    """The latest value of ``column`` among ``rows`` and the cursor so far."""
    for row in rows:
        value = row.get(column) if isinstance(row, dict) else None
        if isinstance(value, str) and value and (cursor is None or later(value, cursor)):
            cursor = value
    return cursor
