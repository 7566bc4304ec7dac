"""The mapped layout's export gate: every source file present, settled, readable, not empty.

The same rules as the preset's gate (``connectors.cloudschool.export``), per source file:
with a manifest (``file,rows,sha256,exported_at``) each file's hash must match, without
one no file may have changed within ``settle_seconds``; a missing file waits for the
next run, an empty or header-only one (unless ``allow_empty``) holds the export. Hashes
are kept by (size, mtime), so later streams of a run re-check with a ``stat`` only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from config.errors import SourceDataError, SourceUnavailableError
from connectors.cloudschool.mapped.tables import Table, csv_header, xml_header
from connectors.cloudschool.reader import FileInfo, ManifestEntry, inspect, read_manifest, stat_key

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


class MappedGate:
    def __init__(self, options: Options, folder: Path) -> None:
        self.options = options
        self.folder = folder
        self._seen: dict[Path, tuple[FileInfo, Table]] = {}

    def check(self, now: float) -> Sources:
        opts = self.options
        if not self.folder.is_dir():
            raise SourceUnavailableError(f"export folder {self.folder.name!r} not found")
        manifest = self._manifest()
        tables: dict[str, Table] = {}
        infos: dict[str, FileInfo] = {}
        entries: dict[str, ManifestEntry | None] = {}
        for name in used_sources(opts):
            spec = opts.sources[name]
            path = self.folder / spec.file
            if not path.is_file():
                raise SourceUnavailableError(f"{spec.file}: missing from the export (sources.{name})")
            entry = None
            if manifest is None:
                age = now - path.stat().st_mtime
                if age < opts.settle_seconds:
                    raise SourceUnavailableError(
                        f"{spec.file}: modified {max(age, 0):.0f}s ago, waiting until it has been unchanged "
                        f"for {opts.settle_seconds:.0f}s (settle_seconds)"
                    )
            else:
                entry = manifest.get(spec.file)
                if entry is None:
                    raise SourceUnavailableError(f"{spec.file}: not listed in the manifest")
            infos[name], tables[name] = self._inspect(name, path, entry)
            entries[name] = entry
        digest = hashlib.sha256()
        for name, info in infos.items():
            digest.update(f"{name}:{info.path.name}:{info.sha256}\n".encode())
        return Sources(tables, infos, entries, digest.hexdigest())

    def _manifest(self) -> dict[str, ManifestEntry] | None:
        name = self.options.manifest
        path = self.folder / name if name else None
        if path is None or not path.is_file():
            if self.options.require_manifest:
                raise SourceUnavailableError(f"{name}: manifest missing (require_manifest is set)")
            return None
        return read_manifest(path)

    def _inspect(self, name: str, path: Path, entry: ManifestEntry | None) -> tuple[FileInfo, Table]:
        size, mtime_ns = stat_key(path)
        cached = self._seen.get(path)
        if cached is None or (cached[0].size, cached[0].mtime_ns) != (size, mtime_ns):
            spec = self.options.sources[name]
            info = inspect(path, spec.encoding or self.options.encoding)
            if entry is not None and entry.sha256 != info.sha256:
                raise SourceUnavailableError(
                    f"{path.name}: sha256 differs from the manifest (still being written or replaced)"
                )
            cached = self._seen[path] = (info, self._table(name, info))
        elif entry is not None and entry.sha256 != cached[0].sha256:
            raise SourceUnavailableError(f"{path.name}: sha256 differs from the manifest (replaced)")
        return cached

    def _table(self, name: str, info: FileInfo) -> Table:
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
