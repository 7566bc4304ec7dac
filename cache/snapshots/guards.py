"""Guards: reasons to hold a snapshot for approval instead of publishing it.

Per kind, thresholds on deletes (records removed) and shrinkage (removed minus added),
each as a share of the published count and as an absolute number; plus set-aside rows
and empty sources. Reasons carry kinds and counts only, never record contents.
"""

from __future__ import annotations

from cache.snapshots.staging import Staging
from config.settings import GuardRule, Guards


def guard_reasons(g: Guards, staging: Staging, published: int | None, full: bool) -> list[str]:
    """Reasons to hold this snapshot instead of publishing it (no personal data)."""
    reasons = []
    rejected = sum(c.rejected for c in staging.result.counts.values())
    if rejected > g.max_rejected:
        reasons.append(f"{rejected} records were set aside (limit {g.max_rejected})")
    if published is None:
        for kind in g.guarded_kinds:
            c = staging.result.counts.get(kind)
            if c is None or c.added == 0:
                reasons.append(f"the source has no {kind} records")
        return reasons
    before = staging.published_counts(g.guarded_kinds)
    for kind in g.guarded_kinds:
        c = staging.result.counts.get(kind)
        deleted = c.deleted if c else 0
        prior = before.get(kind, 0)
        if prior and full and c is not None and c.added + c.changed + c.unchanged == 0:
            reasons.append(f"the source returned no {kind} records (had {prior})")
            continue
        reasons.extend(_rule_reasons(kind, g.rule(kind), prior, deleted, deleted - (c.added if c else 0)))
    return reasons


def _rule_reasons(kind: str, rule: GuardRule, prior: int, deleted: int, shrink: int) -> list[str]:
    """A kind's delete and shrinkage thresholds (share of the published count, and absolute)."""
    out = []
    if prior and deleted / prior > rule.max_drop_share:
        out.append(
            f"{deleted} of {prior} {kind} records would be removed (more than {rule.max_drop_share:.0%})"
        )
    elif rule.max_drop_count is not None and deleted > rule.max_drop_count:
        out.append(f"{deleted} {kind} records would be removed (more than {rule.max_drop_count})")
    if shrink <= 0:
        return out
    if prior and rule.max_shrink_share is not None and shrink / prior > rule.max_shrink_share:
        out.append(
            f"{kind} records would shrink by {shrink} of {prior} (more than {rule.max_shrink_share:.0%})"
        )
    elif rule.max_shrink_count is not None and shrink > rule.max_shrink_count:
        out.append(f"{kind} records would shrink by {shrink} (more than {rule.max_shrink_count})")
    return out
