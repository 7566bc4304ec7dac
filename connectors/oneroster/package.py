"""OneRoster packages: a zip (files at its root) or a folder, each with ``manifest.csv``.

``path`` is one bundle or a folder of bundles. Each bundle's manifest says, per file,
``bulk`` (the whole set), ``delta`` (changes only) or ``absent`` (not supplied). The
files supplied must be the files the manifest lists, or the bundle is held (the
binding: "an import error should be reported"). A bundle modified within
``settle_seconds`` is still being written: the run waits. Bundles are never changed.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from config.errors import SourceDataError, SourceUnavailableError
from connectors.oneroster.spec import FILES_12, MODES, VERSIONS

MANIFEST = "manifest.csv"
_CHUNK = 1 << 20
# Long free text (comments) must not end a read; the csv default is 128 KiB.
csv.field_size_limit(16 * 1024 * 1024)


@dataclass(frozen=True)
class Bundle:
    """One package: where it is, its version and each file's mode."""

    name: str
    path: Path
    is_zip: bool
    version: str  # "1.1" or "1.2" (1.2.1 reads as 1.2)
    modes: dict[str, str]  # file name without .csv -> bulk | delta | absent
    sha256: str

    def mode(self, file: str) -> str:
        return self.modes.get(file, "absent")


def _sha_of(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for p in sorted(paths):
        digest.update(p.name.encode() + b"\0")
        with p.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def _is_bundle_dir(p: Path) -> bool:
    return p.is_dir() and (p / MANIFEST).is_file()


def candidates(path: Path, order: str) -> list[Path]:
    """The bundles at ``path``, oldest first."""
    if path.is_file():
        return [path]
    if _is_bundle_dir(path):
        return [path]
    if not path.is_dir():
        raise SourceUnavailableError(f"{path.name or path}: no OneRoster bundle or folder there")
    found = [p for p in path.iterdir() if (p.is_file() and p.suffix.lower() == ".zip") or _is_bundle_dir(p)]
    if not found:
        raise SourceUnavailableError(f"{path.name}: no OneRoster bundle (a .zip or a folder with {MANIFEST})")
    key = (lambda p: (_mtime(p), p.name)) if order == "modified" else (lambda p: (p.name, 0.0))
    return sorted(found, key=key)


def _mtime(p: Path) -> float:
    if p.is_file():
        return p.stat().st_mtime
    return max((f.stat().st_mtime for f in p.iterdir() if f.is_file()), default=p.stat().st_mtime)


class Packages:
    """Finds and opens bundles; remembers each bundle's manifest and hash by (size, mtime)."""

    def __init__(self, path: Path, *, order: str, settle_seconds: float, max_file_bytes: int) -> None:
        self.path = path
        self.order = order
        self.settle_seconds = settle_seconds
        self.max_file_bytes = max_file_bytes
        self._seen: dict[Path, tuple[tuple[int, float], Bundle]] = {}

    def bundles(self, now: float) -> list[Bundle]:
        out = []
        for p in candidates(self.path, self.order):
            age = now - _mtime(p)
            if age < self.settle_seconds:
                raise SourceUnavailableError(
                    f"{p.name}: modified {max(age, 0):.0f}s ago, waiting until it has been unchanged for "
                    f"{self.settle_seconds:.0f}s (settle_seconds)"
                )
            stamp = (_size(p), _mtime(p))
            cached = self._seen.get(p)
            if cached is None or cached[0] != stamp:
                cached = self._seen[p] = (stamp, self._load(p))
            out.append(cached[1])
        return out

    def _load(self, p: Path) -> Bundle:
        if p.is_file():
            try:
                with zipfile.ZipFile(p) as zf:
                    names = self._zip_names(p, zf)
                    manifest = _manifest(p.name, zf.open(MANIFEST) if MANIFEST in names else None)
            except zipfile.BadZipFile:
                raise SourceDataError(f"{p.name}: not a readable zip file; bundle held") from None
            files = {n.removesuffix(".csv") for n in names if n.endswith(".csv") and n != MANIFEST}
            sha = _sha_of([p])
        else:
            names = {f.name for f in p.iterdir() if f.is_file()}
            with (p / MANIFEST).open("rb") as fh:
                manifest = _manifest(p.name, fh)
            files = {n.removesuffix(".csv") for n in names if n.endswith(".csv") and n != MANIFEST}
            sha = _sha_of([p / n for n in names if n.endswith(".csv")])
        version, modes = manifest
        supplied = {f for f, m in modes.items() if m != "absent"}
        missing, unlisted = sorted(supplied - files), sorted(files - supplied)
        if missing or unlisted:
            parts = [f"{f}.csv is in the manifest but not in the bundle" for f in missing]
            parts += [
                f"{f}.csv is supplied but the manifest says absent or does not list it" for f in unlisted
            ]
            raise SourceDataError(f"{p.name}: {'; '.join(parts)}; bundle held")
        return Bundle(p.name, p, p.is_file(), version, modes, sha)

    def _zip_names(self, p: Path, zf: zipfile.ZipFile) -> set[str]:
        names = set()
        for info in zf.infolist():
            if info.is_dir() or info.filename.startswith("__MACOSX/"):
                continue
            if "/" in info.filename or "\\" in info.filename:
                raise SourceDataError(
                    f"{p.name}: files must be at the root of the zip, not in a folder (OneRoster CSV "
                    "binding, section 2.2); bundle held"
                )
            if info.file_size > self.max_file_bytes:
                raise SourceDataError(f"{p.name}: {info.filename} inflates past max_file_bytes; bundle held")
            names.add(info.filename)
        return names

    @contextmanager
    def open(self, bundle: Bundle, file: str) -> Iterator[IO[str]]:
        """A file of the bundle as UTF-8 text (a BOM is skipped); undecodable bytes hold the run."""
        name = f"{file}.csv"
        try:
            if bundle.is_zip:
                with zipfile.ZipFile(bundle.path) as zf, zf.open(name) as raw:
                    bounded = io.BufferedReader(_Bounded(raw, self.max_file_bytes, bundle.name, name))
                    yield io.TextIOWrapper(bounded, "utf-8-sig", newline="")
            else:
                with (bundle.path / name).open("r", encoding="utf-8-sig", newline="") as fh:
                    yield fh
        except UnicodeDecodeError:
            raise SourceDataError(
                f"{bundle.name}: {name} is not UTF-8 (the binding requires it); bundle held"
            ) from None
        except (zipfile.BadZipFile, KeyError, OSError) as exc:
            raise SourceUnavailableError(
                f"{bundle.name}: {name} could not be read ({type(exc).__name__})"
            ) from None


class _Bounded(io.RawIOBase):
    """A zip member that stops past ``limit`` inflated bytes (the header's size can lie)."""

    def __init__(self, raw: IO[bytes], limit: int, bundle: str, name: str) -> None:
        self.raw, self.left, self.where = raw, limit, f"{bundle}: {name}"

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.raw.read(min(len(b), self.left + 1))
        if len(data) > self.left:
            raise SourceDataError(f"{self.where} inflates past max_file_bytes; bundle held")
        self.left -= len(data)
        b[: len(data)] = data
        return len(data)


def _size(p: Path) -> int:
    if p.is_file():
        return p.stat().st_size
    return sum(f.stat().st_size for f in p.iterdir() if f.is_file())


def _manifest(bundle: str, raw: IO[bytes] | None) -> tuple[str, dict[str, str]]:
    """``propertyName,value`` rows: the version and each file's mode (binding Table 3.1)."""
    if raw is None:
        raise SourceDataError(f"{bundle}: no {MANIFEST}; a OneRoster 1.1 or 1.2 bundle has one; bundle held")
    try:
        text = codecs.decode(raw.read(1 << 20), "utf-8-sig")
    except UnicodeDecodeError:
        raise SourceDataError(f"{bundle}: {MANIFEST} is not UTF-8; bundle held") from None
    rows = [r for r in csv.reader(io.StringIO(text)) if r]
    if not rows or [c.strip() for c in rows[0][:2]] != ["propertyName", "value"]:
        raise SourceDataError(f"{bundle}: {MANIFEST} header must be propertyName,value; bundle held")
    props: dict[str, str] = {}
    for n, row in enumerate(rows[1:], start=2):
        if len(row) < 2:
            raise SourceDataError(f"{bundle}: {MANIFEST} row {n} has no value; bundle held")
        props[row[0].strip()] = row[1].strip()
    version = VERSIONS.get(props.get("oneroster.version", ""))
    if version is None:
        raise SourceDataError(
            f"{bundle}: {MANIFEST} oneroster.version must be 1.1, 1.2 or 1.2.1; bundle held"
        )
    modes = {}
    for key, value in props.items():
        if not key.startswith("file."):
            continue
        name = key.removeprefix("file.")
        if name not in FILES_12:
            raise SourceDataError(f"{bundle}: {MANIFEST} names an unknown file {key!r}; bundle held")
        if value not in MODES:
            raise SourceDataError(f"{bundle}: {MANIFEST} {key} must be bulk, delta or absent; bundle held")
        modes[name] = value
    return version, modes
