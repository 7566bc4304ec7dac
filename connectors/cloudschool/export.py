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
from pathlib import Path

from config.errors import SourceDataError, SourceUnavailableError
from connectors.cloudschool import mapping
from connectors.cloudschool.options import Options
from connectors.cloudschool.reader import FileInfo, ManifestEntry, inspect, iter_rows, read_manifest, stat_key


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


class Gate:
    """Checks the export folder; keeps file hashes between calls (see module docstring)."""

    def __init__(self, options: Options, folder: Path) -> None:
        self.options = options
        self.folder = folder
        self._inspected: dict[Path, tuple[FileInfo, mapping.Bound]] = {}

    def check(self, now: float) -> Export:
        opts = self.options
        if not self.folder.is_dir():
            raise SourceUnavailableError(f"export folder {self.folder.name!r} not found")
        manifest = self._manifest()
        files: dict[str, ExportFile] = {}
        for entity in mapping.enabled_entities(opts):
            name = mapping.file_name(opts, entity)
            path = self.folder / name
            if not path.is_file():
                raise SourceUnavailableError(f"{name}: missing from the export (files.{entity})")
            entry = None
            if manifest is None:
                age = now - path.stat().st_mtime
                if age < opts.settle_seconds:
                    raise SourceUnavailableError(
                        f"{name}: modified {max(age, 0):.0f}s ago, waiting until it has been unchanged "
                        f"for {opts.settle_seconds:.0f}s (settle_seconds)"
                    )
            else:
                entry = manifest.get(name)
                if entry is None:
                    raise SourceUnavailableError(f"{name}: not listed in the manifest")
            info, bound = self._inspect(entity, path, entry)
            files[entity] = ExportFile(entity, info, bound, entry)
        digest = hashlib.sha256()
        for entity, f in files.items():
            digest.update(f"{entity}:{f.info.path.name}:{f.info.sha256}\n".encode())
        stamps = {f.manifest.exported_at for f in files.values() if f.manifest and f.manifest.exported_at}
        return Export(files, digest.hexdigest(), max(stamps) if stamps else None)

    def _manifest(self) -> dict[str, ManifestEntry] | None:
        name = self.options.manifest
        path = self.folder / name if name else None
        if path is None or not path.is_file():
            if self.options.require_manifest:
                raise SourceUnavailableError(f"{name}: manifest missing (require_manifest is set)")
            return None
        return read_manifest(path)

    def _inspect(
        self, entity: str, path: Path, entry: ManifestEntry | None
    ) -> tuple[FileInfo, mapping.Bound]:
        """Hash, decode check and header of ``path``, redone only when its size or mtime moved."""
        size, mtime_ns = stat_key(path)
        cached = self._inspected.get(path)
        if cached is None or (cached[0].size, cached[0].mtime_ns) != (size, mtime_ns):
            info = inspect(path, self.options.encoding)
            if entry is not None and entry.sha256 != info.sha256:
                # Held for review, like a row count that differs: not a failure of the source.
                raise SourceDataError(
                    f"{path.name}: sha256 differs from the manifest (still being written or replaced); export held"
                )
            cached = self._inspected[path] = (info, self._bind(entity, info))
        elif entry is not None and entry.sha256 != cached[0].sha256:
            raise SourceDataError(f"{path.name}: sha256 differs from the manifest (replaced); export held")
        return cached

    def _bind(self, entity: str, info: FileInfo) -> mapping.Bound:
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
