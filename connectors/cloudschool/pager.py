"""Records and set-aside rows gathered into pages, for both layouts' readers; a stream with
more than ``max_rejected`` bad rows holds the export."""

from __future__ import annotations

from config.errors import RecordError, SourceDataError
from connectors import records as rec
from connectors.base import Page


class Pager:
    """Collects records and set-aside rows into pages; holds the export past max_rejected."""

    def __init__(self, size: int, stream: str, max_rejected: int) -> None:
        self.size, self.stream, self.max_rejected = size, stream, max_rejected
        self.records: list[rec.Record] = []
        self.keys: list[int | None] = []  # row keys, aligned with records when not empty
        self.rejected: list[RecordError] = []
        self.known = 0
        self.total_rejected = 0

    def reject(self, error: RecordError) -> None:
        self.total_rejected += 1
        if self.total_rejected > self.max_rejected:
            raise SourceDataError(
                f"{self.stream}: more than {self.max_rejected} malformed rows (max_rejected); export held"
            )
        self.rejected.append(error)

    def flush(self, cursor: str | None = None) -> Page:
        keys = self.keys
        if keys:  # records appended after the keyed ones have no key
            keys.extend([None] * (len(self.records) - len(keys)))
        page = Page(self.records, self.rejected, full=True, cursor=cursor, row_keys=keys, known=self.known)
        self.records, self.rejected, self.keys, self.known = [], [], [], 0
        return page
