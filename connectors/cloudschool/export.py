"""The export gate: is the folder a complete, settled, consistent export worth reading?

Checked before any stream is read, for the whole export at once, so a bad export
is refused before a single record reaches a snapshot:

* with a manifest: every file listed (else ``SourceUnavailableError``, try next run)
  and its sha256 equal (else ``SourceDataError``: the run is held for review, as for a
  row count that differs; the next run reads the export again);
* without one: no file modified within ``settle_seconds`` (still being written);
* every enabled file present (else ``SourceUnavailableError``), not empty, not
  header-only unless ``allow_empty``, and carrying the required columns (else
  ``SourceDataError``: the run is held and the operator told why).

Hashes are cached by (size, mtime) so later streams of the same run re-check with
a ``stat`` only. ``Export.fingerprint`` identifies the content of the export.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from config.errors import SourceDataError
from connectors.cloudschool import mapping
from connectors.cloudschool.gate import FileGate
from connectors.cloudschool.reader import FileInfo, ManifestEntry, iter_rows, stat_key


@dataclass(frozen=True)
class ExportFile:
    entity: str
    info: FileInfo
    bound: mapping.Bound
    manifest: ManifestEntry | None


@dataclass(frozen=True)
class Export:
    """A checked export: its files by entity and a fingerprint of their content."""

    files: dict[str, ExportFile]
    fingerprint: str
    exported_at: str | None


class Gate(FileGate[mapping.Bound]):
    """Checks the export folder; keeps file hashes between calls (see module docstring)."""

    def check(self, now: float) -> Export:
        opts = self.options
        manifest = self.manifest()
        files: dict[str, ExportFile] = {}
        for entity in mapping.enabled_entities(opts):
            path, entry = self.settled(mapping.file_name(opts, entity), f"files.{entity}", manifest, now)
            info, bound = self.hashed(entity, path, entry, opts.encoding)
            files[entity] = ExportFile(entity, info, bound, entry)
        digest = hashlib.sha256()
        for entity, f in files.items():
            digest.update(f"{entity}:{f.info.path.name}:{f.info.sha256}\n".encode())
        stamps = {f.manifest.exported_at for f in files.values() if f.manifest and f.manifest.exported_at}
        return Export(files, digest.hexdigest(), max(stamps) if stamps else None)

    def read(self, entity: str, info: FileInfo) -> mapping.Bound:
        name = info.path.name
        rows = iter_rows(info.path, info.encoding, self.options.delimiter)
        try:
            header = next(rows, None)
            first_row = next(rows, None)
        finally:
            rows.close()
        if header is None:
            raise SourceDataError(f"{name}: empty file (no header row); export held")
        bound = mapping.bind(self.options, entity, header[1])
        if not bound.index:
            raise SourceDataError(f"{name}: the first row names none of the mapped columns; export held")
        if bound.missing:
            raise SourceDataError(f"{name}: missing column {', '.join(bound.missing)}; export held")
        if first_row is None and not self.options.mapping(entity).allow_empty:
            raise SourceDataError(
                f"{name}: header only, no data rows; export held (files.{entity}.allow_empty)"
            )
        return bound


def unchanged(info: FileInfo) -> bool:
    """True when the file still has the size and mtime it had when it was hashed."""
    try:
        return stat_key(info.path) == (info.size, info.mtime_ns)
    except FileNotFoundError:
        return False
