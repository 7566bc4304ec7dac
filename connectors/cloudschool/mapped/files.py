"""The mapped layout's export gate: every source file present, settled, readable, not empty.

The preset's rules (``connectors.cloudschool.gate``, shared with ``connectors.cloudschool.export``),
per source file: with a manifest (``file,rows,sha256,exported_at``) each file's hash must match
(else the export is held), without one no file may have changed within ``settle_seconds``; a
missing file waits for the next run, an empty or header-only one (unless ``allow_empty``) holds
the export. Hashes are kept by (size, mtime), so later streams of a run re-check with a ``stat`` only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from config.errors import SourceDataError
from connectors.cloudschool.gate import FileGate
from connectors.cloudschool.mapped.tables import Table, csv_header, xml_header
from connectors.cloudschool.reader import FileInfo, ManifestEntry

if TYPE_CHECKING:  # the options module imports this package
    from connectors.cloudschool.options import Options


@dataclass(frozen=True)
class Sources:
    """A checked export: each source's table, file identity and manifest entry."""

    tables: dict[str, Table]
    infos: dict[str, FileInfo]
    manifest: dict[str, ManifestEntry | None]
    fingerprint: str


def used_sources(options: Options) -> list[str]:
    """Sources some record mapping reads (directly or through a join), in YAML order."""
    used: set[str] = set()
    for found in options.records.values():
        for m in found if isinstance(found, list) else [found]:
            used.add(m.source)
            used.update(j.source for j in m.join.values())
    return [name for name in options.sources if name in used]


class MappedGate(FileGate[Table]):
    def check(self, now: float) -> Sources:
        opts = self.options
        manifest = self.manifest()
        tables: dict[str, Table] = {}
        infos: dict[str, FileInfo] = {}
        entries: dict[str, ManifestEntry | None] = {}
        for name in used_sources(opts):
            spec = opts.sources[name]
            path, entry = self.settled(spec.file, f"sources.{name}", manifest, now)
            infos[name], tables[name] = self.hashed(name, path, entry, spec.encoding or opts.encoding)
            entries[name] = entry
        digest = hashlib.sha256()
        for name, info in infos.items():
            digest.update(f"{name}:{info.path.name}:{info.sha256}\n".encode())
        return Sources(tables, infos, entries, digest.hexdigest())

    def read(self, name: str, info: FileInfo) -> Table:
        spec = self.options.sources[name]
        delimiter = spec.delimiter or self.options.delimiter
        if spec.format == "xml":
            header, has_data = xml_header(info.path, str(spec.record))
            if not has_data:
                header = None  # type: ignore[assignment]
        else:
            found, has_data = csv_header(info.path, info.encoding, delimiter)
            header = found  # type: ignore[assignment]
        if not header:
            if spec.format == "xml" and spec.allow_empty:
                header = []
            else:
                raise SourceDataError(f"{info.path.name}: empty file (no header row); export held")
        if not has_data and not spec.allow_empty:
            raise SourceDataError(
                f"{info.path.name}: header only, no data rows; export held (sources.{name}.allow_empty)"
            )
        return Table(name, spec, info.path, info.encoding, delimiter, header)
