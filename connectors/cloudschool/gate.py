"""What both layouts' export gates check of each file, written once.

The folder exists; with a manifest every file is listed in it, without one no file has
changed within ``settle_seconds`` (else ``SourceUnavailableError``: wait for the next
run); a missing file waits too. Each file is hashed, and read for what its layout needs
(the preset's column binding, the mapped layout's table), once per (size, mtime); a hash
that differs from the manifest holds the export for review (``SourceDataError``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from config.errors import SourceDataError, SourceUnavailableError
from connectors.cloudschool.reader import FileInfo, ManifestEntry, inspect, read_manifest, stat_key

if TYPE_CHECKING:  # the options module imports the mapped package, which imports this
    from connectors.cloudschool.options import Options

T = TypeVar("T")


class FileGate(ABC, Generic[T]):
    """The export folder of one connector, with each file's hash and header kept (module docstring)."""

    def __init__(self, options: Options, folder: Path) -> None:
        self.options = options
        self.folder = folder
        self._seen: dict[Path, tuple[FileInfo, T]] = {}

    def manifest(self) -> dict[str, ManifestEntry] | None:
        """The folder's manifest, or None when it has none (and need not)."""
        if not self.folder.is_dir():
            raise SourceUnavailableError(f"export folder {self.folder.name!r} not found")
        name = self.options.manifest
        path = self.folder / name if name else None
        if path is None or not path.is_file():
            if self.options.require_manifest:
                raise SourceUnavailableError(f"{name}: manifest missing (require_manifest is set)")
            return None
        return read_manifest(path)

    def settled(
        self, file: str, key: str, manifest: dict[str, ManifestEntry] | None, now: float
    ) -> tuple[Path, ManifestEntry | None]:
        """``file``'s path and manifest entry, once it is there and settled; ``key`` is
        the YAML key that names it (``files.students``, ``sources.pm``)."""
        path = self.folder / file
        if not path.is_file():
            raise SourceUnavailableError(f"{file}: missing from the export ({key})")
        if manifest is not None:
            entry = manifest.get(file)
            if entry is None:
                raise SourceUnavailableError(f"{file}: not listed in the manifest")
            return path, entry
        age = now - path.stat().st_mtime
        settle = self.options.settle_seconds
        if age < settle:
            raise SourceUnavailableError(
                f"{file}: modified {max(age, 0):.0f}s ago, waiting until it has been unchanged "
                f"for {settle:.0f}s (settle_seconds)"
            )
        return path, None

    @abstractmethod
    def read(self, name: str, info: FileInfo) -> T:
        """What the layout takes from the file's first rows (or refuses it for): its header."""

    def hashed(self, name: str, path: Path, entry: ManifestEntry | None, encoding: str) -> tuple[FileInfo, T]:
        """Hash, decode check and :meth:`read` of ``path`` (``name``'s file), redone only
        when its size or mtime moved."""
        size, mtime_ns = stat_key(path)
        cached = self._seen.get(path)
        if cached is None or (cached[0].size, cached[0].mtime_ns) != (size, mtime_ns):
            info = inspect(path, encoding)
            if entry is not None and entry.sha256 != info.sha256:
                # Held for review, like a row count that differs: not a failure of the source.
                raise SourceDataError(
                    f"{path.name}: sha256 differs from the manifest (still being written or replaced); export held"
                )
            cached = self._seen[path] = (info, self.read(name, info))
        elif entry is not None and entry.sha256 != cached[0].sha256:
            raise SourceDataError(f"{path.name}: sha256 differs from the manifest (replaced); export held")
        return cached
