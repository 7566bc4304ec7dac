"""Contract end: delete every row and destroy every data key of the district, and certify it."""

from __future__ import annotations

import secrets
from collections import Counter
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select

from cache.keys.keystore import Keyring, data_key
from cache.tables.privacy import CORRECTIONS, PURGED
from cache.types import utcnow
from gateway.privacy import audit
from gateway.privacy.purge import ACCOUNTS, HOLDS, RECORDS, SESSIONS, certify, check_reason, chunks, locked


def purge_district(
    engine: Engine, keyring: Keyring, sources: list[str], *, operator: str, reason_code: str = "contract-end"
) -> dict[str, Any]:
    """Contract end: every row and every data key, for every source; later syncs import nothing."""
    check_reason(reason_code)
    cert_id = "del_" + secrets.token_hex(8)
    counts: Counter[str] = Counter()
    for source in sources:
        with locked(engine, source), engine.begin() as conn:
            for kind, n in conn.execute(
                select(RECORDS.c.kind, func.count())
                .where(RECORDS.c.source == source)
                .group_by(RECORDS.c.kind)
            ):
                counts[kind] += int(n)
            conn.execute(delete(RECORDS).where(RECORDS.c.source == source))
            ids = [a for (a,) in conn.execute(select(ACCOUNTS.c.id).where(ACCOUNTS.c.source == source))]
            for chunk in chunks(ids):
                counts["session"] += (
                    conn.execute(delete(SESSIONS).where(SESSIONS.c.account_id.in_(chunk))).rowcount or 0
                )
            counts["account"] += (
                conn.execute(delete(ACCOUNTS).where(ACCOUNTS.c.source == source)).rowcount or 0
            )
            counts["hold"] += conn.execute(delete(HOLDS).where(HOLDS.c.source == source)).rowcount or 0
            counts["correction"] += (
                conn.execute(delete(CORRECTIONS).where(CORRECTIONS.c.source == source)).rowcount or 0
            )
            conn.execute(
                insert(PURGED).values(
                    source=source,
                    subject="district",
                    ref="*",
                    purged_at=utcnow(),
                    reason_code=reason_code,
                    blocked=True,
                    certificate_id=cert_id,
                )
            )
            audit.append(
                conn, [audit.Entry("operator", operator, "deletion", "allowed", source, None, action="purge")]
            )
    with keyring.engine.connect() as conn:
        owners = [o for (o,) in conn.execute(select(data_key.c.owner))]
    destroyed = keyring.destroy_many(owners)
    return certify(
        engine,
        cert_id,
        "district",
        None,
        operator,
        reason_code,
        {
            "sources": sources,
            "data_keys_destroyed": len(destroyed),
            "key_ids_destroyed": sorted(destroyed.values()),
            "rows_deleted": {k: v for k, v in sorted(counts.items()) if v},
        },
    )
