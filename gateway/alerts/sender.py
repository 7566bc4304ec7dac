"""Send what the outbox holds when it is due: claim, check again, render, send, mark sent.

Exactly once per (recipient, record, kind) comes from the outbox's unique key (one row,
however often detected) and from this loop: a sender claims a row (or, for a digest,
every due row of one account and mode) for ``alerts.claim_lease``, sends, then marks the
rows sent in one statement. Several senders (workers, replicas) never take the same
row: PostgreSQL's ``FOR UPDATE SKIP LOCKED``, SQLite's single writer. A sender killed
after the SMTP server accepted a message and before marking it leaves that one claim to
expire, and that one message is sent again: nothing is lost, and at most the message in
flight is doubled.

At send time every row is checked again: the account is still active, it may still see
the child (the API's own query, :meth:`cache.read.reader.Reader.student`), the family
has not turned the kind off, the record is still in the published snapshot with the
same alert kind, and the portal shows it now (:mod:`cache.read.visibility`). A row that
fails the first three is dropped without a word; a record not yet shown waits. Words
are rendered now, from the cache: the outbox holds no personal data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Connection, and_, or_, select, text, update

from cache.read.predicates import current_in
from cache.read.reader import Reader, StudentHandle
from cache.read.visibility import rule_for, school_zone, visible_from, window
from cache.snapshots.runs import load_state
from cache.store import Cache
from cache.tables.accounts import Account
from cache.types import utcnow
from config.settings import PorticoConfig
from gateway.access import credentials
from gateway.alerts import prefs as prefs_
from gateway.alerts.detect import ACCOUNTS, OUTBOX, RECORDS, classify, news, open_row, principal
from gateway.alerts.unsubscribe import unsubscribe_url
from gateway.ops.mail import Mailer, MailError, Message

log = structlog.get_logger("portico.alerts")


@dataclass(frozen=True)
class Item:
    """One alert in a message: the child's first name and the kind (what ``detail`` allows)."""

    kind: str
    first_name: str


@dataclass(frozen=True)
class Letter:
    """Everything a message is made from, in the recipient's language."""

    to: str
    locale: str
    mode: str  # instant | daily | weekly
    items: tuple[Item, ...]
    detail: str  # first_name_and_kind | portal_only
    district: str
    portal_url: str
    preferences_url: str
    unsubscribe_url: str
    message_id: str = ""  # stable: the same rows give the same id (a resend after a crash)


# How a Letter becomes a Message (the portal's catalogs: gateway.web.alert_mail).
Render = Callable[[Letter], Message]


@dataclass
class Sent:
    messages: int = 0
    alerts: int = 0
    dropped: int = 0
    deferred: int = 0
    retried: int = 0
    failed: int = 0


@dataclass
class _Claim:
    token: str
    account_id: str
    mode: str
    rows: list[Any] = field(default_factory=list)


def _due(now: dt.datetime) -> Any:
    o = OUTBOX.c
    return and_(
        o.status == "pending",
        o.due_at <= now,
        or_(o.claimed_until.is_(None), o.claimed_until < now),
    )


def claim(conn: Connection, now: dt.datetime, lease: dt.timedelta) -> _Claim | None:
    """Take the next due row (a digest: every due row of its account and mode) for ``lease``."""
    o = OUTBOX.c
    token = secrets.token_hex(16)
    until = now + lease
    if conn.dialect.name == "postgresql":
        first = conn.execute(
            select(o.id, o.account_id, o.mode)
            .where(_due(now))
            .order_by(o.due_at, o.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if first is None:
            return None
        ids = [first.id]
        if first.mode != "instant":
            ids = list(
                conn.execute(
                    select(o.id)
                    .where(_due(now), o.account_id == first.account_id, o.mode == first.mode)
                    .with_for_update(skip_locked=True)
                ).scalars()
            )
        conn.execute(update(OUTBOX).where(o.id.in_(ids)).values(claim=token, claimed_until=until))
        account_id, mode = first.account_id, first.mode
    else:
        # SQLite: the first statement writes, so this transaction holds the one write lock.
        pick = select(o.id).where(_due(now)).order_by(o.due_at, o.id).limit(1).scalar_subquery()
        got = conn.execute(update(OUTBOX).where(o.id == pick).values(claim=token, claimed_until=until))
        if not got.rowcount:
            return None
        account_id, mode = conn.execute(select(o.account_id, o.mode).where(o.claim == token)).one()
        if mode != "instant":
            conn.execute(
                update(OUTBOX)
                .where(_due(now), o.account_id == account_id, o.mode == mode)
                .values(claim=token, claimed_until=until)
            )
    found = _Claim(token, account_id, mode)
    found.rows = list(conn.execute(select(OUTBOX).where(o.claim == token).order_by(o.id)).mappings())
    return found


class Sender:
    def __init__(
        self,
        cache: Cache,
        config: PorticoConfig,
        mailer: Mailer,
        render: Render,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.cache, self.config, self.mailer, self.render, self.clock = cache, config, mailer, render, clock
        self.settings = config.alerts
        self.tz = ZoneInfo(config.district.timezone)

    def run(self, limit: int | None = None, on_message: Callable[[], None] | None = None) -> Sent:
        """Send everything due now (at most ``limit`` claims); safe to run in several processes."""
        out = Sent()
        done = 0
        while limit is None or done < limit:
            now = self.clock()
            with self.cache.engine.begin() as conn:
                got = claim(conn, now, self.settings.claim_lease)
            if got is None:
                break
            done += 1
            self._deliver(got, now, out)
            if on_message is not None:
                on_message()
        return out

    # --- one claim -----------------------------------------------------------------------

    def _deliver(self, got: _Claim, now: dt.datetime, out: Sent) -> None:
        with self.cache.engine.connect() as conn:
            account = _account(conn, got.account_id)
            keep, drop, wait = self._check(conn, account, got, now)
            quiet = None
            if account is not None:
                chosen = prefs_.load(conn, account.id)
                quiet = chosen.quiet_hours(self.settings)
                email = credentials.holder(conn, self.cache.keyring, account).email if keep else None
                if keep and not email:
                    drop += [r for r, _ in keep]
                    keep = []
                locale = chosen.language or "en_US"
        if drop:
            self._finish(got.token, [r["id"] for r in drop], "dropped", now)
            out.dropped += len(drop)
        for row, at in wait:
            self._release(got.token, row["id"], at)
            out.deferred += 1
        if not keep or account is None:
            return
        local = now.astimezone(self.tz)
        if prefs_.in_quiet(quiet, local.time()) and quiet is not None:
            at = prefs_.quiet_end(quiet, now, self.tz)
            for row, _ in keep:
                self._release(got.token, row["id"], at)
            out.deferred += len(keep)
            return
        scope = got.mode if got.mode != "instant" else keep[0][0]["kind"]
        letter = Letter(
            to=email or "",
            locale=locale,
            mode=got.mode,
            items=tuple(item for _, item in keep),
            detail=self.settings.detail,
            district=self.config.district.name,
            portal_url=self.config.portal_url("/"),
            preferences_url=self.config.portal_url("/account/alerts"),
            unsubscribe_url=unsubscribe_url(self.cache.keyring, self.config, account.id, scope),
            message_id="alert."
            + hashlib.sha256("|".join(row["key"] for row, _ in keep).encode()).hexdigest()[:32],
        )
        ids = [row["id"] for row, _ in keep]
        try:
            self.mailer.send(self.render(letter))
        except MailError as exc:
            self._failed(got.token, keep, now, type(exc).__name__, out)
            return
        self._finish(got.token, ids, "sent", self.clock())
        out.messages += 1
        out.alerts += len(ids)

    def _check(
        self, conn: Connection, account: Account | None, got: _Claim, now: dt.datetime
    ) -> tuple[list[tuple[Any, Item]], list[Any], list[tuple[Any, dt.datetime]]]:
        """Split a claim into what may be sent now, what is dropped, and what waits (until when)."""
        keep: list[tuple[Any, Item]] = []
        drop: list[Any] = []
        wait: list[tuple[Any, dt.datetime]] = []
        if account is None or account.status != "active":
            return keep, list(got.rows), wait
        chosen = prefs_.load(conn, account.id)
        state = load_state(conn, account.source)
        if state is None or state.published_run is None:
            return keep, list(got.rows), wait
        reader = Reader(conn, self.cache.keyring, self.config.attached())
        today = now.astimezone(self.tz).date()
        handles: dict[str, StudentHandle | None] = {}
        for row in got.rows:
            ref = row["student_ref"]
            if ref not in handles:
                handles[ref] = reader.student(principal(account), state.published_run, today, ref)
            handle = handles[ref]
            if handle is None or chosen.mode(self.settings, ref, row["kind"]) == "off":
                drop.append(row)
                continue
            shown = self._shown(conn, reader, handle, row, chosen.score_threshold(self.settings), now)
            if shown is None:
                drop.append(row)
            elif shown is not True:
                wait.append((row, shown))
            else:
                first = handle.data.get("preferred_first_name") or handle.data.get("legal_first_name") or ""
                keep.append((row, Item(row["kind"], str(first))))
        return keep, drop, wait

    def _shown(
        self,
        conn: Connection,
        reader: Reader,
        handle: StudentHandle,
        row: Any,
        threshold: float,
        now: dt.datetime,
    ) -> Literal[True] | dt.datetime | None:
        """True when the portal shows the record now with this alert kind; None when it no
        longer has it (deleted, corrected); else when to look again."""
        r = RECORDS.c
        run = dict(handle.sources()).get(row["source"])
        if run is None:
            return None
        found = conn.execute(
            select(r.stamp, r.day, r.key_id, r.payload, r.parent_ref).where(
                r.source == row["source"],
                r.kind == row["record_kind"],
                r.ref == row["record_ref"],
                r.student_ref == handle.ref,
                current_in(run),
            )
        ).first()
        if found is None:
            return None
        stamp, day, points = found.stamp, found.day, None
        if row["record_kind"] == "result":
            a = conn.execute(
                select(r.stamp, r.day, r.key_id, r.payload).where(
                    r.source == row["source"],
                    r.kind == "assignment",
                    r.ref == found.parent_ref,
                    current_in(run),
                )
            ).first()
            if a is None:
                return None
            stamp, day = a.stamp, a.day
            p = open_row(
                self.cache.keyring, row["source"], "assignment", found.parent_ref, a.key_id, a.payload
            )
            points = float(p["points_possible"]) if p.get("points_possible") else None
        data = open_row(
            self.cache.keyring,
            row["source"],
            row["record_kind"],
            row["record_ref"],
            found.key_id,
            found.payload,
        )
        if row["kind"] not in news(classify(row["record_kind"], data, points), None, threshold):
            return None
        tz = school_zone(reader, handle, self.tz)
        rule = rule_for(
            self.config.visibility, "assignment" if row["record_kind"] == "result" else row["record_kind"]
        )
        if window(rule, now, tz).shows(stamp, day):
            return True
        return max(visible_from(rule, stamp, day, tz, now), now + dt.timedelta(seconds=1))

    # --- outcomes ------------------------------------------------------------------------

    def _finish(self, token: str, ids: list[int], status: str, now: dt.datetime) -> None:
        o = OUTBOX.c
        with self.cache.engine.begin() as conn:
            conn.execute(
                update(OUTBOX)
                .where(o.claim == token, o.id.in_(ids))
                .values(
                    status=status, sent_at=now if status == "sent" else None, claim=None, claimed_until=None
                )
            )

    def _release(self, token: str, row_id: int, at: dt.datetime) -> None:
        o = OUTBOX.c
        with self.cache.engine.begin() as conn:
            conn.execute(
                update(OUTBOX)
                .where(o.claim == token, o.id == row_id)
                .values(due_at=at, claim=None, claimed_until=None)
            )

    def _failed(
        self, token: str, keep: list[tuple[Any, Item]], now: dt.datetime, error: str, out: Sent
    ) -> None:
        """An SMTP failure: try again after a doubling wait, or give up after ``max_attempts``."""
        s = self.settings
        o = OUTBOX.c
        with self.cache.engine.begin() as conn:
            for row, _ in keep:
                attempts = int(row["attempts"]) + 1
                if attempts >= s.max_attempts:
                    values: dict[str, Any] = {"status": "failed", "attempts": attempts}
                    out.failed += 1
                else:
                    wait = min(s.retry_base * (2 ** (attempts - 1)), s.retry_max)
                    values = {"due_at": now + wait, "attempts": attempts}
                    out.retried += 1
                conn.execute(
                    update(OUTBOX)
                    .where(o.claim == token, o.id == row["id"])
                    .values(error=error, claim=None, claimed_until=None, **values)
                )
        log.warning("alerts.send_failed", error_class=error, rows=len(keep))


def _account(conn: Connection, account_id: str) -> Account | None:
    row = conn.execute(select(ACCOUNTS).where(ACCOUNTS.c.id == account_id)).mappings().first()
    return Account(**row) if row else None


@dataclass
class Stats:
    """The outbox for ``portico status`` and ``/metrics``: counts by status, failures, the oldest due."""

    by_status: dict[str, int]
    retrying: int
    oldest_due: dt.datetime | None


def stats(conn: Connection, now: dt.datetime) -> Stats:
    o = OUTBOX.c
    rows = conn.execute(text("SELECT status, count(*) FROM alert_outbox GROUP BY status")).all()
    retrying = conn.execute(
        select(text("count(*)")).select_from(OUTBOX).where(o.status == "pending", o.attempts > 0)
    ).scalar()
    oldest = conn.execute(
        select(o.due_at).where(o.status == "pending", o.due_at <= now).order_by(o.due_at).limit(1)
    ).scalar()
    return Stats({str(s): int(n) for s, n in rows}, int(retrying or 0), oldest)
