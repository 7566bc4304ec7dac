"""The C allocator's settings for a process that syncs (glibc only; elsewhere a no-op).

glibc serves a large allocation (128 KiB and up by default) with its own ``mmap``, given
back to the system when freed, but it then raises that threshold to the size of the
block just freed (up to 32 MiB). After the first page body of a few megabytes is freed,
every later body, decoded page and growing dict table comes from the heap instead; the
heap cannot give back what lies below a live block, so it keeps the high-water mark of
every page read and grows with the pages the district fills. Measured in a sync of the
simulator's district, first month, 5,000 students: 27 MB free but held inside the heap
at the end, 3 MB with the threshold fixed (docs/PERFORMANCE-scale.md).

Fixing the threshold with ``mallopt`` turns off that adjustment: a block of at least
:data:`MMAP_THRESHOLD` is mapped and unmapped on its own. That costs a system call and
fresh pages per such block, a few per page of records, against parsing thousands of
rows.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

# glibc's own defaults, kept fixed (mallopt turns off the dynamic raising). The trim
# threshold (free memory at the heap's top given back) is raised with the other, so it
# is set back too, should a large block have been freed before this call.
MMAP_THRESHOLD = 128 * 1024
TRIM_THRESHOLD = 128 * 1024
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # malloc.h

_done = False
_lock = threading.Lock()


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    # gnu_get_libc_version exists in glibc only: mallopt's option numbers are glibc's.
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return None
    return libc


def fix_mmap_threshold() -> bool:
    """Fix glibc's mmap and trim thresholds for this process, once.
    True when the setting is in force (False off glibc, or if glibc refused it)."""
    global _done
    with _lock:
        if _done:
            return True
        libc = _libc()
        if libc is None:
            return False
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.mallopt.restype = ctypes.c_int
        _done = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
            libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
        )
        return _done
