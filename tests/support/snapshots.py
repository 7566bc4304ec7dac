"""What a cache's published snapshot holds, read with plain SQL: an oracle independent of
the product's own read path."""

from __future__ import annotations

from sqlalchemy import text

from cache.store import Cache

PUBLISHED = (
    "SELECT r.ref FROM record r JOIN source_state s ON s.source = r.source "
    "WHERE r.source = :source AND r.kind = :kind AND r.valid_from <= s.published_run "
    "AND (r.valid_to IS NULL OR r.valid_to > s.published_run)"
)


def published_refs(cache: Cache, kind: str, source: str = "sis") -> set[str]:
    """The refs of ``kind`` in ``source``'s published snapshot."""
    with cache.engine.connect() as conn:
        return set(conn.execute(text(PUBLISHED), {"source": source, "kind": kind}).scalars())
