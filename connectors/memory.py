"""A connector over canonical records already in memory: no source, no parsing, no network.

The benchmarks sync a synthetic district through it to measure Portico's own cost with
nothing in front of the sync engine, and the tests drive the engine with it. It is not a
connector type YAML can name, and no serving path imports it (``pyproject.toml``,
``[tool.importlinter]``).

Each stream is a list of records; its kinds are the kinds of those records (or the
stream's name when it is empty). Every read is full and comes in pages of ``page_size``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from connectors.base import CheckResult, KnownRows, Page, StreamInfo
from connectors.records import Record


class MemoryConnector:
    """Serves fixed lists of canonical records, one list per stream, as full pages."""

    def __init__(self, name: str, streams: Mapping[str, Sequence[Record]], page_size: int = 50) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.name = name
        self.data = {stream: list(records) for stream, records in streams.items()}
        self.page_size = page_size

    def streams(self) -> list[StreamInfo]:
        out = []
        for stream, records in self.data.items():
            kinds = tuple(dict.fromkeys(r.kind for r in records)) or (stream,)
            out.append(StreamInfo(stream, kinds))
        return out

    def check(self) -> CheckResult:
        return CheckResult()

    def read(
        self, stream: str, state: str | None, *, full: bool = False, known: KnownRows | None = None
    ) -> Iterator[Page]:
        records = self.data[stream]
        for start in range(0, len(records), self.page_size):
            yield Page(
                records=records[start : start + self.page_size], full=True, expected_total=len(records)
            )

    def close(self) -> None:
        pass
