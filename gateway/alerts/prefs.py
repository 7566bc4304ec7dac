"""Each account's alert choices, with the district's defaults filling every gap.

One shape for the API (``/v1/account/alerts``) and the portal's form: per child and per
kind a mode (instant, daily, weekly, off), a score threshold, quiet hours (district
time) and the language emails are written in. :func:`parse` checks a submitted
document and names every bad field; nothing is stored unless all of it is right.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from cache.tables.alerts import AlertOutbox, AlertPreference
from cache.tables.core import core_table
from cache.types import fetch_in, typed
from config.settings import AlertSettings, QuietHours

PREFS = core_table(AlertPreference)
OUTBOX = core_table(AlertOutbox)
MODES = ("instant", "daily", "weekly", "off")
LANGUAGES = ("en_US", "en_GB", "es")
# In ``children``: a choice for every child, present and future (what an unsubscribe sets).
EVERY_CHILD = "*"


@dataclass(frozen=True)
class Prefs:
    """An account's choices as stored (``children``: student ref -> kind -> mode)."""

    children: dict[str, dict[str, str]] = field(default_factory=dict)
    threshold: float | None = None
    quiet: str | tuple[dt.time, dt.time] | None = None  # None: the district's; "off": none
    language: str | None = None

    def mode(self, settings: AlertSettings, student_ref: str, kind: str) -> str:
        """The mode for one child and kind: the family's choice, else the district's default."""
        if kind not in settings.kinds or not settings.enabled:
            return "off"
        return (
            self.children.get(student_ref, {}).get(kind)
            or self.children.get(EVERY_CHILD, {}).get(kind)
            or settings.default_for(kind)
        )

    def score_threshold(self, settings: AlertSettings) -> float:
        return settings.score_threshold if self.threshold is None else self.threshold

    def quiet_hours(self, settings: AlertSettings) -> QuietHours | None:
        if self.quiet == "off":
            return None
        if isinstance(self.quiet, tuple):
            return QuietHours(start=self.quiet[0], end=self.quiet[1])
        return settings.quiet_hours

    def as_json(self) -> dict[str, Any]:
        quiet: Any = self.quiet
        if isinstance(self.quiet, tuple):
            quiet = {"start": self.quiet[0].strftime("%H:%M"), "end": self.quiet[1].strftime("%H:%M")}
        return {
            "children": self.children,
            "threshold": self.threshold,
            "quiet": quiet,
            "language": self.language,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any] | None) -> Prefs:
        if not raw:
            return cls()
        quiet = raw.get("quiet")
        if isinstance(quiet, dict):
            quiet = (dt.time.fromisoformat(quiet["start"]), dt.time.fromisoformat(quiet["end"]))
        return cls(
            children={k: dict(v) for k, v in (raw.get("children") or {}).items()},
            threshold=raw.get("threshold"),
            quiet=quiet,
            language=raw.get("language"),
        )


def load(conn: Connection, account_id: str) -> Prefs:
    row = conn.execute(select(PREFS.c.prefs).where(PREFS.c.account_id == account_id)).first()
    return Prefs.from_json(row[0] if row else None)


def load_many(conn: Connection, account_ids: Iterable[str]) -> dict[str, Prefs]:
    ids = sorted(set(account_ids))
    column = (PREFS.c.prefs,)
    sql = "SELECT account_id, prefs FROM alert_pref WHERE account_id IN :values"
    return {a: Prefs.from_json(typed(conn.dialect, column, (p,))[0]) for a, p in fetch_in(conn, sql, {}, ids)}


def save(conn: Connection, account_id: str, prefs: Prefs, now: dt.datetime) -> None:
    """Store ``prefs`` (the caller commits), and have the account's queued alerts planned again.

    A queued alert's ``due_at`` follows the mode it had when queued; the sender decides at
    send time, by the choices then, whether it is due (gateway.alerts.sender). So that a
    change to an earlier mode (a daily digest made instant) is not held to the old time,
    the account's waiting alerts are made due from when they became visible: the sender
    sends those due now and puts the rest back for the time their new mode gives."""
    done = conn.execute(
        PREFS.update().where(PREFS.c.account_id == account_id).values(prefs=prefs.as_json(), updated_at=now)
    )
    if not done.rowcount:
        conn.execute(PREFS.insert().values(account_id=account_id, prefs=prefs.as_json(), updated_at=now))
    o = OUTBOX.c
    conn.execute(
        OUTBOX.update()
        .where(
            o.account_id == account_id,
            o.status == "pending",
            o.claim.is_(None),
            o.attempts == 0,  # a retry keeps its backoff
            o.due_at > o.visible_at,
        )
        .values(due_at=o.visible_at)
    )


def turn_off(conn: Connection, account_id: str, kind: str, children: Iterable[str], now: dt.datetime) -> None:
    """Turn ``kind`` off for every child named (the one-click unsubscribe)."""
    current = load(conn, account_id)
    kids = {ref: dict(kinds) for ref, kinds in current.children.items()}
    for ref in (*children, *kids, EVERY_CHILD):
        kids.setdefault(ref, {})[kind] = "off"
    save(conn, account_id, Prefs(kids, current.threshold, current.quiet, current.language), now)


class Invalid(ValueError):
    """A submitted document with bad fields: ``errors`` names each one."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


def _time(value: Any, where: str, errors: list[dict[str, str]]) -> dt.time | None:
    if isinstance(value, str) and len(value) == 5 and value[2] == ":":
        try:
            return dt.time.fromisoformat(value)
        except ValueError:
            pass
    errors.append({"field": where, "message": "expected a time as HH:MM"})
    return None


def parse(body: Any, settings: AlertSettings, visible: Mapping[str, str]) -> Prefs:
    """A submitted document as :class:`Prefs`; ``visible`` maps the public ids of the children
    the account may see now to their refs. Raises :class:`Invalid` naming every bad field."""
    errors: list[dict[str, str]] = []
    if not isinstance(body, dict):
        raise Invalid([{"field": "(body)", "message": "expected a JSON object"}])
    unknown = sorted(set(body) - {"children", "threshold", "quiet_hours", "language"})
    errors += [{"field": k, "message": "unknown field"} for k in unknown]
    children: dict[str, dict[str, str]] = {}
    raw_children = body.get("children", [])
    if not isinstance(raw_children, list) or len(raw_children) > 50:
        errors.append({"field": "children", "message": "expected a list of at most 50 children"})
        raw_children = []
    for i, child in enumerate(raw_children):
        where = f"children[{i}]"
        if not isinstance(child, dict) or set(child) - {"id", "kinds"}:
            errors.append({"field": where, "message": "expected an object with id and kinds"})
            continue
        cid = child.get("id")
        ref = visible.get(cid) if isinstance(cid, str) else None
        if ref is None:
            errors.append({"field": f"{where}.id", "message": "not a child of this account"})
            continue
        kinds = child.get("kinds", {})
        if not isinstance(kinds, dict):
            errors.append({"field": f"{where}.kinds", "message": "expected an object of kind: mode"})
            continue
        chosen: dict[str, str] = {}
        for kind, mode in kinds.items():
            if kind not in settings.kinds:
                errors.append({"field": f"{where}.kinds.{kind}"[:120], "message": "not a kind offered"})
            elif mode not in MODES:
                errors.append(
                    {"field": f"{where}.kinds.{kind}", "message": f"expected one of {', '.join(MODES)}"}
                )
            else:
                chosen[kind] = mode
        children[ref] = chosen
    threshold = body.get("threshold")
    if threshold is not None and (
        isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 100
    ):
        errors.append({"field": "threshold", "message": "expected a percentage from 0 to 100, or null"})
        threshold = None
    quiet: str | tuple[dt.time, dt.time] | None = None
    raw_quiet = body.get("quiet_hours")
    if raw_quiet == "off" or raw_quiet is None:
        quiet = raw_quiet
    elif isinstance(raw_quiet, dict) and set(raw_quiet) == {"start", "end"}:
        start = _time(raw_quiet["start"], "quiet_hours.start", errors)
        end = _time(raw_quiet["end"], "quiet_hours.end", errors)
        if start is not None and end is not None:
            if start == end:
                errors.append({"field": "quiet_hours", "message": "start and end are the same time"})
            quiet = (start, end)
    else:
        errors.append(
            {"field": "quiet_hours", "message": 'expected {"start": "HH:MM", "end": "HH:MM"}, "off" or null'}
        )
    language = body.get("language")
    if language is not None and language not in LANGUAGES:
        errors.append({"field": "language", "message": f"expected one of {', '.join(LANGUAGES)}, or null"})
    if errors:
        raise Invalid(errors)
    return Prefs(children, None if threshold is None else float(threshold), quiet, language)


def in_quiet(quiet: QuietHours | None, local: dt.time) -> bool:
    """Whether ``local`` (district time) falls in ``quiet`` (which may span midnight)."""
    if quiet is None:
        return False
    if quiet.start < quiet.end:
        return quiet.start <= local < quiet.end
    return local >= quiet.start or local < quiet.end


def quiet_end(quiet: QuietHours, now: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """The next end of ``quiet`` after ``now`` (an instant in UTC)."""
    local = now.astimezone(tz)
    end = dt.datetime.combine(local.date(), quiet.end, tzinfo=tz)
    if end <= local:
        end += dt.timedelta(days=1)
    return end.astimezone(dt.UTC)
