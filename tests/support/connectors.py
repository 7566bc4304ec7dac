"""Connectors for tests: records in memory, with a knob that breaks a stream mid-read."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from config.errors import SourceUnavailableError
from connectors.base import KnownRows, Page
from connectors.memory import MemoryConnector
from connectors.records import Record
from simulators.district.synthetic import SyntheticDistrict


class ListConnector(MemoryConnector):
    """``MemoryConnector`` whose ``fail_in`` stream raises after its first page."""

    def __init__(self, name: str, streams: Mapping[str, Sequence[Record]], page_size: int = 50) -> None:
        super().__init__(name, streams, page_size)
        self.fail_in: str | None = None

    def read(
        self, stream: str, state: str | None, *, full: bool = False, known: KnownRows | None = None
    ) -> Iterator[Page]:
        for i, page in enumerate(super().read(stream, state, full=full, known=known)):
            if self.fail_in == stream and i > 0:
                raise SourceUnavailableError(f"stream {stream}: connection reset")
            yield page


def streams(district: SyntheticDistrict) -> dict[str, list[Record]]:
    """Every record of ``district``, one stream per kind."""
    return {kind: list(district.iter(kind)) for kind in district.kinds()}


def district_connector(district: SyntheticDistrict, name: str = "sis") -> ListConnector:
    return ListConnector(name, streams(district), page_size=500)
