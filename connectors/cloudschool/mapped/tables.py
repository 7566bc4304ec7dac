"""Raw source files as tables: a header and rows of string cells, CSV or XML.

CSV is read as the preset is (encoding detection, quoting, CRLF; ``reader.open_csv``);
rows shorter than the header are padded, and trailing empty cells dropped. XML is a
SIMS CommandReporter-style report: one element per record (``record:
SuperStarReport/Record``), one child element per column, names encoded as XML names
(``Legal_x0020_Surname`` is "Legal Surname"); a missing element is a blank cell.
An XML file with a document type declaration is refused (no entity expansion).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # noqa: S405 - DTDs are refused before parsing (_refuse_dtd)
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from config.errors import SourceDataError
from connectors.cloudschool.mapped.options import Source
from connectors.cloudschool.reader import normalise_header, open_csv

_XML_NAME = re.compile(r"_x([0-9A-Fa-f]{4})_")


def decode_xml_name(name: str) -> str:
    """``Legal_x0020_Surname`` -> ``Legal Surname`` (XmlConvert-style escapes)."""
    return _XML_NAME.sub(lambda m: chr(int(m.group(1), 16)), name)


@dataclass
class Table:
    """One source file: where it is, how to read it, and its header."""

    source: str  # the source's name in YAML
    spec: Source
    path: Path
    encoding: str
    delimiter: str
    header: list[str]
    index: dict[str, int] = field(default_factory=dict)  # normalised header name -> position

    def __post_init__(self) -> None:
        for i, name in enumerate(self.header):
            self.index.setdefault(normalise_header(name), i)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def unit(self) -> str:
        return "record" if self.spec.format == "xml" else "row"

    def position(self, column: str) -> int | None:
        return self.index.get(normalise_header(column))

    def rows(self, read: Collection[int] | None = None) -> Iterator[tuple[int, list[str]]]:
        """``(row number, cells)``: cells as wide as the header, null tokens made blank in the
        cells at ``read`` (every cell when None). CSV row numbers are what a spreadsheet
        shows (header = 1); XML counts records from 1."""
        width = len(self.header)
        nulls = {t.strip().casefold() for t in self.spec.null}
        sizes = {len(t) for t in nulls}  # a cell of another length is no token: skip the strip
        at = range(width) if read is None else sorted(read)
        source = self._xml_rows() if self.spec.format == "xml" else self._csv_rows()
        for n, cells in source:
            if len(cells) < width:
                cells = cells + [""] * (width - len(cells))
            elif len(cells) > width:
                if any(c.strip() for c in cells[width:]):
                    raise _Wide(n, len(cells), width)
                del cells[width:]
            if nulls:
                for i in at:
                    c = cells[i]
                    if (
                        c
                        and (len(c) in sizes or c[0].isspace() or c[-1].isspace())
                        and c.strip().casefold() in nulls
                    ):
                        cells[i] = ""
            yield n, cells

    def _csv_rows(self) -> Iterator[tuple[int, list[str]]]:
        with open_csv(self.path, self.encoding, self.delimiter) as (_, rows):
            for n, row in rows:
                if row and any(c.strip() for c in row):
                    yield n, row

    def _xml_rows(self) -> Iterator[tuple[int, list[str]]]:
        tag = str(self.spec.record).rstrip("/").split("/")[-1]
        for n, record in enumerate(_records(self.path, tag), start=1):
            cells = [""] * len(self.header)
            for name, text in record.items():
                pos = self.index.get(normalise_header(name))
                if pos is not None:
                    cells[pos] = text
            yield n, cells


class _Wide(Exception):
    """A row wider than its header with something in the extra cells."""

    def __init__(self, row_no: int, n: int, width: int) -> None:
        super().__init__(f"{n} fields where the header has {width} (an unquoted delimiter?)")
        self.row_no = row_no


Wide = _Wide


def _refuse_dtd(path: Path) -> None:
    with path.open("rb") as fh:
        head = fh.read(64 * 1024)
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise SourceDataError(f"{path.name}: an XML document type declaration is not accepted")


def _records(path: Path, tag: str) -> Iterator[dict[str, str]]:
    _refuse_dtd(path)
    try:
        for _, elem in ET.iterparse(path, events=("end",)):  # noqa: S314 - DTDs refused above
            if elem.tag == tag:
                yield {decode_xml_name(child.tag): (child.text or "") for child in elem}
                elem.clear()
    except ET.ParseError as exc:
        raise SourceDataError(f"{path.name}: not well-formed XML ({exc})") from None


def xml_header(path: Path, record: str) -> tuple[list[str], bool]:
    """The column names of an XML report (in order of first appearance) and whether it has a record."""
    tag = record.rstrip("/").split("/")[-1]
    names: dict[str, None] = {}
    any_record = False
    for rec in _records(path, tag):
        any_record = True
        names.update(dict.fromkeys(rec))
    return list(names), any_record


def csv_header(path: Path, encoding: str, delimiter: str) -> tuple[list[str] | None, bool]:
    """The header row of a CSV file (trailing empty cells dropped) and whether a data row follows."""
    with open_csv(path, encoding, delimiter) as (header, rows):
        if header is None:
            return None, False
        has_data = any(row and any(c.strip() for c in row) for _, row in rows)
    while header and not header[-1].strip():
        header = header[:-1]
    return [h.strip() for h in header], has_data
