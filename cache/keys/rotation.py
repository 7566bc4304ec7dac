"""Online key rotation: add a KEK, rewrap every data key under it, retire KEKs nothing uses.

Readers keep working throughout: the key file only ever gains the new KEK before any
data key is rewrapped, every write of the file is an atomic rename, and every
:class:`~cache.keys.keystore.Keyring` re-reads the file when it meets a KEK id it does
not know (and before it wraps a new data key). An old KEK is removed only when no
data key uses it; if a process that had not yet re-read the file wraps a new key
under it in that instant, the KEK is put back and reported, never lost.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cache.keys.crypto import KekRing, new_kek_line
from cache.keys.keystore import Keyring

HEADER = "# Portico key-encryption keys: '<id> <base64>'; the last line is active.\n"


def write_key_file(path: Path, lines: list[str]) -> None:
    """Replace the key file atomically (temp file in the same directory, fsync, rename), mode 600."""
    fd, tmp = tempfile.mkstemp(prefix=".kek-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(HEADER)
            fh.writelines(line + "\n" for line in lines)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def key_lines(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


@dataclass
class Rotation:
    new_kek: str
    rewrapped: int
    retired: list[str]
    kept: dict[str, int]  # old KEKs still in use (put back), with how many data keys use them


def rotate(keyring: Keyring, path: Path, *, settle_s: float = 0.5) -> Rotation:
    """Run a full rotation of the key file at ``path`` for ``keyring``'s keystore."""
    where = f"file {path}"
    old_lines = key_lines(path)
    KekRing.parse("\n".join(old_lines), where)  # refuse to touch a file we cannot read
    line = new_kek_line()
    new_id = line.split()[0]
    write_key_file(path, [*old_lines, line])
    full = KekRing.parse("\n".join([*old_lines, line]), where)
    keyring.keks = full  # wraps under the new KEK, unwraps under any of them
    rewrapped = 0
    for _ in range(10):
        rewrapped += keyring.rewrap_all()
        if not _old_in_use(keyring, new_id):
            break
    old_ids = {ln.split()[0]: ln for ln in old_lines}
    keep = {k: ln for k, ln in old_ids.items() if keyring.kek_usage().get(k)}
    write_key_file(path, [*keep.values(), line])
    # A process that wrapped a key under an old KEK just before re-reading the file:
    # give it a moment, rewrap once more (we still hold every old KEK in memory), and
    # put back any old KEK that is still in use rather than lose a data key.
    time.sleep(settle_s)
    rewrapped += keyring.rewrap_all()
    usage = keyring.kek_usage()
    late = {k: old_ids[k] for k in old_ids if usage.get(k) and k not in keep}
    if late:
        keep.update(late)
        write_key_file(path, [*keep.values(), line])
    keyring.keks = KekRing.parse("\n".join([*keep.values(), line]), where)
    return Rotation(new_id, rewrapped, sorted(set(old_ids) - set(keep)), {k: usage.get(k, 0) for k in keep})


def _old_in_use(keyring: Keyring, new_id: str) -> bool:
    return any(k != new_id and n for k, n in keyring.kek_usage().items())
