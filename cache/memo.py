"""Bounded memos: what a process remembers to skip work it would repeat (a day's ISO text,
a school's time zone, a class's assignments), emptied when full."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def remember(memo: MutableMapping[K, V], key: K, value: V, limit: int) -> V:
    """``memo[key] = value``, and ``value``. A memo already holding ``limit`` entries is
    emptied first: a bound on memory, not a policy (what it held is worked out again when
    asked for). A caller that reads back several entries it remembered keeps its own
    references to them: another entry, this caller's or another thread's, may empty it."""
    if len(memo) >= limit:
        memo.clear()
    memo[key] = value
    return value
