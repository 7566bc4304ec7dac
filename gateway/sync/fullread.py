"""A second read of a full stream whose ids came or went, to catch a source changing mid-read.

Paging by offset misses a row when another is deleted behind the reader and a third
inserted ahead (the /count still agrees): the snapshot would lack a row that never
left the source. That needs ids to come or go, so only then is the stream read again;
other ids than the first read's mean the source changed, and the run is retried
(:class:`~config.errors.SourceChangedError`) instead of publishing a shifted read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from config.errors import SourceChangedError
from connectors.base import Connector, KeyReader, Page
from connectors.records import Record


@dataclass
class IdSet:
    """An order-free fingerprint of a set of record ids: count and a sum of hashes."""

    count: int = 0
    total: int = 0

    def add(self, records: list[Record]) -> None:
        for rec in records:
            self.count += 1
            self.total = (self.total + hash((rec.kind, rec.source_id))) & 0xFFFF_FFFF_FFFF_FFFF

    def add_keys(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.count += 1
            self.total = (self.total + hash(key)) & 0xFFFF_FFFF_FFFF_FFFF

    def add_page(self, page: Page) -> None:
        """The page's row keys when the connector reports them, else its records' ids."""
        if page.keys is not None:
            self.add_keys(page.keys)
        else:
            self.add(page.records)


def confirm_full_read(connector: Connector, stream: str, seen: IdSet) -> int:
    """Read ``stream`` in full again; SourceChangedError unless it has ``seen``'s ids. Returns retries.

    A connector that reports row keys (:class:`~connectors.base.KeyReader`) re-reads the
    key columns alone; ``seen`` then holds the keys of the first read (``Page.keys``)."""
    again = IdSet()
    retries = 0
    if isinstance(connector, KeyReader):
        for keys in connector.read_keys(stream):
            again.add_keys(keys)
    else:
        for page in connector.read(stream, None, full=True):
            again.add(page.records)
            retries += page.retries
    if again != seen:
        raise SourceChangedError(
            f"stream {stream} changed while it was read in full ({seen.count} then {again.count} records)"
        )
    return retries
