"""Keyed blind indexes: the remembered refs of shared records are the refs themselves."""

from __future__ import annotations

import os

from cache.keys.crypto import BlindIndex


def test_a_shared_ref_is_the_ref_and_is_remembered_per_key() -> None:
    index, other = BlindIndex(os.urandom(32)), BlindIndex(os.urandom(32))
    first = index.shared_ref("sis", "school", "12")
    assert first == index.ref("sis", "school", "12")
    assert index.shared_ref("sis", "school", "12") is first  # remembered, not recomputed
    assert other.shared_ref("sis", "school", "12") == other.ref("sis", "school", "12") != first
    assert index.shared_ref("sis", "section", "12") == index.ref("sis", "section", "12") != first


def test_the_memory_of_shared_refs_is_bounded() -> None:
    index = BlindIndex(os.urandom(32))
    for n in range(25_000):
        assert index.shared_ref("sis", "section", str(n)) == index.ref("sis", "section", str(n))
    assert len(index._shared_refs) <= 10_001
