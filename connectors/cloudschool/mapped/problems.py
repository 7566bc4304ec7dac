"""``portico config validate`` for a mapped layout: the mapping against the files in the folder.

Names every missing source file, empty file, and column a mapping reads that its file
lacks, each under the options key it belongs to. Files are not hashed or settled here:
that is the sync's gate (files.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from config.errors import SourceDataError
from connectors.cloudschool.mapped.check import columns_of
from connectors.cloudschool.mapped.compile import Compiled, KeyIndex, MissingColumn, _need
from connectors.cloudschool.mapped.files import used_sources
from connectors.cloudschool.mapped.tables import Table, csv_header, xml_header
from connectors.cloudschool.reader import detect_encoding

if TYPE_CHECKING:
    from connectors.cloudschool.options import Options

Key = tuple[str | int, ...]


def _table(options: Options, name: str, folder: Path) -> tuple[Table | None, str]:
    spec = options.sources[name]
    path = folder / spec.file
    if not path.is_file():
        return None, f"{spec.file}: file not found in the export folder (sources.{name})"
    try:
        encoding = detect_encoding(path, spec.encoding or options.encoding)
        delimiter = spec.delimiter or options.delimiter
        if spec.format == "xml":
            header, _ = xml_header(path, str(spec.record))
        else:
            found, _ = csv_header(path, encoding, delimiter)
            header = found or []
    except SourceDataError as exc:
        return None, str(exc)
    if not header:
        return None, f"{spec.file}: empty file (no header row, or no XML record)"
    return Table(name, spec, path, encoding, delimiter, header), ""


def mapped_problems(options: Options, folder: Path) -> list[tuple[Key, str]]:
    if not folder.is_dir():
        return [(("path",), f"{folder.name or folder}: export folder not found")]
    problems: list[tuple[Key, str]] = []
    tables: dict[str, Table] = {}
    for name in used_sources(options):
        table, problem = _table(options, name, folder)
        if table is None:
            problems.append((("sources", name), problem))
        else:
            tables[name] = table

    def index(source: str, columns: list[str]) -> KeyIndex:
        for c in columns:
            _need(tables[source], c, "a join key")
        return KeyIndex({}, {})

    for entity, found in options.records.items():
        mappings = found if isinstance(found, list) else [found]
        for i, m in enumerate(mappings):
            key: Key = ("records", entity, i) if isinstance(found, list) else ("records", entity)
            if m.source not in tables or any(j.source not in tables for j in m.join.values()):
                continue  # already reported above
            spec = options.sources[m.source]
            words = (spec.flag_true or options.flag_true, spec.flag_false or options.flag_false)
            try:
                Compiled(m, columns_of(entity)[0], tables, index, words)
            except MissingColumn as exc:
                problems.append((key, f"{exc} (records.{entity})"))
    return problems
