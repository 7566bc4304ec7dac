"""The district's written access rule per source: shown, and recorded in the audit chain when it changes.

A source whose connector type carries a written rule (``connectors.rules``: the CSV
and OneRoster connectors) publishes links decided by it. After each publish the rule
in force is compared with the last one recorded for that source; a new or changed
rule is appended to the hash-chained audit log as an ``access-rule`` event whose
``outcome`` is the rule's fingerprint (``portico status`` prints the rule with the
same fingerprint, so an auditor can tell which text was in force from when).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from sqlalchemy import Connection, Engine, select

from cache.tables.audit import EVENTS
from config.settings import PorticoConfig
from connectors import registry
from connectors.base import no_access_policy
from connectors.rules import Policy
from gateway.privacy import audit

log = structlog.get_logger("portico.access")

CATEGORY = "access-rule"
# What decides access for a source without a written rule (PowerSchool-like sources carry the flags).
FLAGS_TEXT = "the source's own flags decide: parental responsibility and portal access, no court order"


def policy_of(config: PorticoConfig, source: str) -> Policy | None:
    """The written rule of ``source`` (None: the source's own flags decide)."""
    cs = config.connector(source)
    ct = registry.get(cs.type)
    if ct.access_policy is no_access_policy:
        return None  # nothing written to show: the options need not even be read
    return ct.access_policy(ct.options_model.model_validate(cs.options))


@dataclass(frozen=True)
class Recorded:
    fingerprint: str
    at: dt.datetime


def last_recorded(conn: Connection, source: str) -> Recorded | None:
    # Rule events carry no student, so the student index finds them among few rows.
    row = conn.execute(
        select(EVENTS.c.outcome, EVENTS.c.at)
        .where(EVENTS.c.student_ref.is_(None), EVENTS.c.category == CATEGORY, EVENTS.c.source == source)
        .order_by(EVENTS.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else Recorded(str(row[0]), row[1])


def record_if_changed(engine: Engine, source: str, policy: Policy) -> bool:
    """Append the rule to the audit chain unless it is the one last recorded; True when appended."""
    fingerprint = policy.fingerprint()
    with engine.begin() as conn:
        last = last_recorded(conn, source)
        if last is not None and last.fingerprint == fingerprint:
            return False
        action = "rule-set" if last is None else "rule-changed"
        audit.append(
            conn, [audit.Entry("system", "config", CATEGORY, fingerprint, source, None, action=action)]
        )
    log.info(
        "access.rule_recorded", source=source, fingerprint=fingerprint, action=action, rule=policy.describe()
    )
    return True


def after_publish(engine: Engine, config: PorticoConfig) -> Callable[[str, int], None]:
    """A SyncEngine ``on_published`` hook: the rule the published links were decided by."""

    def hook(source: str, run_id: int) -> None:
        policy = policy_of(config, source)
        if policy is not None:
            record_if_changed(engine, source, policy)

    return hook
