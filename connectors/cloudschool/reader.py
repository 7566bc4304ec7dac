"""Reading export files safely: encoding detection, hashing, the manifest, and CSV rows.

Files are opened read-only and never modified. ``inspect`` makes one pass over the
bytes to hash them and to decide the encoding ("auto": UTF-8 with or without BOM,
else Windows-1252); rows are then read with the csv module (quoted commas and
newlines, CRLF, lone CR). Cells are strings and stay strings: nothing is evaluated.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import os
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from config.errors import SourceDataError, SourceUnavailableError

_CHUNK = 1 << 20
Rows = Iterator[tuple[int, list[str]]]
# Free-text cells (comments, notice bodies) can be long; the csv default of 128 KiB
# would turn one long comment into an error for every later row.
csv.field_size_limit(16 * 1024 * 1024)


@dataclass(frozen=True)
class FileInfo:
    """What one pass over a file found: identity (size, mtime), content hash, encoding."""

    path: Path
    size: int
    mtime_ns: int
    sha256: str
    encoding: str


@dataclass(frozen=True)
class ManifestEntry:
    file: str
    rows: int
    sha256: str
    exported_at: str


def normalise_header(name: str) -> str:
    """``' Student_ID '`` -> ``studentid``: headers compare without spaces, underscores or case."""
    return "".join(name.replace("\ufeff", "").replace("_", "").split()).casefold()


def stat_key(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def inspect(path: Path, encoding: str) -> FileInfo:
    """Hash ``path`` and settle its encoding in one pass over the bytes."""
    size, mtime_ns = stat_key(path)
    digest = hashlib.sha256()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    is_utf8 = encoding == "auto"
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            if is_utf8:
                try:
                    utf8.decode(chunk)
                except UnicodeDecodeError:
                    is_utf8 = False
    if is_utf8:
        try:
            utf8.decode(b"", final=True)  # a multi-byte character cut off at the end
        except UnicodeDecodeError:
            is_utf8 = False
    if encoding == "auto":
        encoding = "utf-8-sig" if is_utf8 else "cp1252"
    return FileInfo(path, size, mtime_ns, digest.hexdigest(), encoding)


def detect_encoding(path: Path, encoding: str) -> str:
    """The encoding to read ``path`` with (cheap for explicit encodings)."""
    return inspect(path, encoding).encoding if encoding == "auto" else encoding


def _decode_error(path: Path, encoding: str) -> SourceDataError:
    return SourceDataError(f"{path.name}: not readable as {encoding} (set options.encoding)")


@contextmanager
def open_csv(path: Path, encoding: str, delimiter: str) -> Iterator[tuple[list[str] | None, Rows]]:
    """``(header, rows)`` of ``path``: the first non-blank row, then ``(row number, cells)``.

    Row numbers are what a spreadsheet shows: the header is row 1 and blank lines
    count (they arrive as ``[]``; callers skip them), while a quoted cell spanning
    lines stays one row. Decoding and CSV errors anywhere inside the ``with`` block
    become a ``SourceDataError`` naming the file.
    """
    reader = None
    try:
        with path.open("r", encoding=encoding, newline="") as fh:
            reader = csv.reader(fh, delimiter=delimiter, strict=False)
            rows = enumerate(reader, start=1)
            header = None
            for _, row in rows:
                if row:
                    header = row
                    header[0] = header[0].lstrip("\ufeff")  # a BOM left by an explicit utf-8
                    break
            yield header, rows
    except UnicodeDecodeError:
        raise _decode_error(path, encoding) from None
    except csv.Error as exc:
        line = reader.line_num if reader is not None else 0
        raise SourceDataError(f"{path.name}: unreadable CSV near line {line} ({exc})") from None


def iter_rows(path: Path, encoding: str, delimiter: str) -> Generator[tuple[int, list[str]], None, None]:
    """``(row number, cells)`` of each non-blank row of ``path``, header first (see open_csv)."""
    with open_csv(path, encoding, delimiter) as (header, rows):
        if header is None:
            return
        yield 1, header
        for n, row in rows:
            if row:
                yield n, row


def read_header(path: Path, encoding: str, delimiter: str) -> list[str] | None:
    """The header row of ``path``, or None for an empty file."""
    rows = iter_rows(path, encoding, delimiter)
    try:
        first = next(rows, None)
        return None if first is None else first[1]
    finally:
        rows.close()


def read_manifest(path: Path) -> dict[str, ManifestEntry]:
    """Parse ``file,rows,sha256,exported_at``; a manifest that does not parse means the
    export is still being written, so the run waits for the next one."""
    entries: dict[str, ManifestEntry] = {}
    rows = [row for _, row in iter_rows(path, detect_encoding(path, "auto"), ",")]
    if not rows:
        raise SourceUnavailableError(f"{path.name}: empty manifest (export still being written?)")
    header = [normalise_header(h) for h in rows[0]]
    try:
        i_file, i_rows, i_sha = header.index("file"), header.index("rows"), header.index("sha256")
    except ValueError:
        raise SourceDataError(f"{path.name}: header must name file, rows and sha256") from None
    i_at = header.index("exportedat") if "exportedat" in header else None
    for n, row in enumerate(rows[1:], start=2):
        try:
            name = row[i_file].strip()
            count = int(row[i_rows])
            sha = row[i_sha].strip().lower()
            at = row[i_at].strip() if i_at is not None and i_at < len(row) else ""
        except (IndexError, ValueError):
            raise SourceUnavailableError(
                f"{path.name} row {n}: incomplete (export still being written?)"
            ) from None
        if len(sha) != 64:
            raise SourceUnavailableError(f"{path.name} row {n}: sha256 is not 64 hex digits")
        entries[name] = ManifestEntry(name, count, sha, at)
    return entries


def copy_file(src: Path, dest_dir: Path) -> None:
    """Copy ``src`` into ``dest_dir`` (archiving); the source is only read."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    tmp = dest_dir / f".{src.name}.partial"
    with src.open("rb") as fin, tmp.open("wb") as fout:
        while chunk := fin.read(_CHUNK):
            fout.write(chunk)
    os.replace(tmp, dest_dir / src.name)
