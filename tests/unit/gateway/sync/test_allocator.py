"""A syncing process keeps glibc's mmap threshold fixed: a page body freed does not move
every later large block into the heap (docs/PERFORMANCE-scale.md, peak RSS)."""

from __future__ import annotations

import ctypes
import ctypes.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gateway.sync.allocator import _libc

ROOT = Path(__file__).resolve().parents[4]

pytestmark = pytest.mark.skipif(_libc() is None, reason="glibc's allocator only")

# Run in a fresh process: the threshold is process-wide and others' tests move it.
_CHECK = """
import ctypes, ctypes.util, sys

class MI2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
        "keepcost")]

libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.mallinfo2.restype = MI2
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = (ctypes.c_size_t,)
libc.free.argtypes = (ctypes.c_void_p,)
{setup}
libc.free(libc.malloc(8 << 20))  # a page body of 8 MB, mapped and freed
before = libc.mallinfo2().hblkhd
block = libc.malloc(1 << 20)  # the next one of 1 MB
mapped = libc.mallinfo2().hblkhd - before >= 1 << 20
libc.free(block)
print("mapped" if mapped else "heap")
"""

_SYNC = """
import datetime as dt, tempfile
from pathlib import Path
from cache.store import open_cache
from gateway.sync.engine import SyncEngine
from tests.support.config import make_config
from tests.support.connectors import ListConnector
from tests.support.records import family
tmp = Path(tempfile.mkdtemp())
config, secrets = make_config(tmp, f"sqlite:///{tmp / 'cache.db'}")
cache = open_cache(config, secrets)
out = SyncEngine(cache.engine, cache.keyring, config, config.connectors[0]).run(ListConnector("sis", family(3)))
assert out.status == "published", out
cache.dispose()
"""


def _run(setup: str) -> str:
    code = _CHECK.format(setup=textwrap.dedent(setup))
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_glibc_moves_large_blocks_into_the_heap_once_one_is_freed_unless_the_threshold_is_fixed() -> None:
    # What the setting is for: without it, glibc raised its threshold to 8 MB.
    assert _run("") == "heap"
    assert _run("from gateway.sync.allocator import fix_mmap_threshold\nassert fix_mmap_threshold()") == (
        "mapped"
    )


def test_a_sync_fixes_the_threshold_for_its_process() -> None:
    assert _run(_SYNC) == "mapped"


def test_fixing_it_twice_is_harmless() -> None:
    from gateway.sync.allocator import fix_mmap_threshold

    assert fix_mmap_threshold() and fix_mmap_threshold()
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    assert hasattr(libc, "mallopt")
