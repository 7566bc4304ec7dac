"""Send what the outbox holds when it is due: claim, check again, render, send, mark sent.

A publish writes news, one row per (record, alert kind) (:func:`gateway.alerts.detect.detect`);
each run here first expands it into the outbox, one row per recipient, record and kind
(:func:`gateway.alerts.detect.expand`: the news rows are deleted in the transaction that
inserts their outbox rows, so a kill loses nothing and a repeat queues nothing twice).
Exactly once per (recipient, record, kind) comes from the outbox's unique key (one row,
however often detected or expanded) and from this loop: a sender claims a row (or, for a digest,
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
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Connection, and_, or_, select, text, update

from cache.read import queries
from cache.read.reader import Reader, StudentHandle
from cache.read.visibility import rule_for, school_zone, visible_from, window
from cache.snapshots.runs import load_state
from cache.store import Cache
from cache.types import binder, placeholder, utcnow
from config.settings import PorticoConfig
from gateway.alerts import prefs as prefs_
from gateway.alerts.detect import (
    ACCOUNTS,
    NO_CHOICES,
    OUTBOX,
    RECIPIENT_COLUMNS,
    RECORDS,
    Recipient,
    chunks,
    classify,
    current_in,
    due_at,
    expand,
    news,
    open_row,
    principal,
)
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
    queued: int = 0  # outbox rows made from the news (one per recipient, record and kind)


def _due(now: dt.datetime) -> Any:
    o = OUTBOX.c
    return and_(
        o.status == "pending",
        o.due_at <= now,
        or_(o.claimed_until.is_(None), o.claimed_until < now),
    )


CLAIM_BATCH = 200  # rows claimed at once; each message is still marked sent on its own


def claim(
    conn: Connection, now: dt.datetime, lease: dt.timedelta, batch: int = CLAIM_BATCH
) -> tuple[str, list[Any]]:
    """Take up to ``batch`` due rows, and every other due row of the same accounts' digests
    (a digest is never split), for ``lease``: the claim's token and its rows."""
    o = OUTBOX.c
    token = secrets.token_hex(16)
    until = now + lease
    if conn.dialect.name == "postgresql":
        picked = conn.execute(
            select(o.id, o.account_id, o.mode)
            .where(_due(now))
            .order_by(o.due_at, o.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        ).all()
        ids = [p.id for p in picked]
        digest_accounts = sorted({p.account_id for p in picked if p.mode != "instant"})
        for part in chunks(digest_accounts):
            ids += conn.execute(
                select(o.id)
                .where(_due(now), o.mode != "instant", o.account_id.in_(part), o.id.not_in(ids))
                .with_for_update(skip_locked=True)
            ).scalars()
        if ids:
            conn.execute(update(OUTBOX).where(o.id.in_(ids)).values(claim=token, claimed_until=until))
    else:
        # SQLite: the first statement writes, so this transaction holds the one write lock.
        pick = select(o.id).where(_due(now)).order_by(o.due_at, o.id).limit(batch).scalar_subquery()
        got = conn.execute(update(OUTBOX).where(o.id.in_(pick)).values(claim=token, claimed_until=until))
        if not got.rowcount:
            return token, []
        # The rest of those accounts' due digests, in one statement: a digest is never split.
        mine = select(o.account_id).where(o.claim == token, o.mode != "instant").distinct().scalar_subquery()
        conn.execute(
            update(OUTBOX)
            .where(_due(now), o.mode != "instant", o.account_id.in_(mine))
            .values(claim=token, claimed_until=until)
        )
    rows = list(conn.execute(select(OUTBOX).where(o.claim == token).order_by(o.id)).mappings())
    return token, rows


@dataclass
class _Plan:
    messages: list[tuple[Recipient, str, str, prefs_.Prefs, list[tuple[Any, Item]]]] = field(
        default_factory=list
    )
    drop: list[Any] = field(default_factory=list)
    # Rows not due yet, with when to look again and the mode they now follow.
    wait: list[tuple[Any, dt.datetime, str | None]] = field(default_factory=list)


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
        self._zones: dict[tuple[str, str], ZoneInfo] = {}

    def run(
        self, limit: int | None = None, on_message: Callable[[], None] | None = None, batch: int = CLAIM_BATCH
    ) -> Sent:
        """Expand the news into the outbox, then send everything due now (at most ``limit``
        messages); safe to run in several processes."""
        out = Sent()
        try:
            out.queued = expand(self.cache, self.config, self.clock()).queued
        except Exception as exc:  # noqa: BLE001 - a batch that always fails must not stop delivery
            # Its transaction rolled back: the news stays for the next pass. The class only:
            # a message could quote a row.
            log.warning("alerts.expand_failed", error_class=type(exc).__name__)
        while limit is None or out.messages < limit:
            now = self.clock()
            size = batch if limit is None else max(1, min(batch, limit - out.messages))
            with self.cache.engine.begin() as conn:
                token, rows = claim(conn, now, self.settings.claim_lease, size)
            if not rows:
                break
            self._deliver(token, rows, now, out, on_message)
        return out

    # --- one claim -----------------------------------------------------------------------

    def _deliver(
        self, token: str, rows: list[Any], now: dt.datetime, out: Sent, on_message: Callable[[], None] | None
    ) -> None:
        """Check, render and send a claim's messages; each is marked sent the moment it is."""
        with self.cache.engine.connect() as conn:
            plan = self._plan(conn, rows, now)
        with self.cache.engine.connect() as conn:
            self._send_planned(conn, token, plan, now, out, on_message)

    def _send_planned(
        self,
        conn: Connection,
        token: str,
        plan: _Plan,
        now: dt.datetime,
        out: Sent,
        on_message: Callable[[], None] | None,
    ) -> None:
        if plan.drop:
            self._finish(conn, token, [r["id"] for r in plan.drop], "dropped", now)
            out.dropped += len(plan.drop)
        for row, at, mode in plan.wait:
            self._release(conn, token, [row["id"]], at, mode)
            out.deferred += 1
        local = now.astimezone(self.tz).time()
        for account, mode, email, chosen, keep in plan.messages:
            quiet = chosen.quiet_hours(self.settings)
            if quiet is not None and prefs_.in_quiet(quiet, local):
                self._release(
                    conn, token, [row["id"] for row, _ in keep], prefs_.quiet_end(quiet, now, self.tz)
                )
                out.deferred += len(keep)
                continue
            scope = mode if mode != "instant" else keep[0][0]["kind"]
            letter = Letter(
                to=email,
                locale=chosen.language or "en_US",
                mode=mode,
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
                self._failed(conn, token, keep, now, type(exc).__name__, out)
                continue
            self._finish(conn, token, ids, "sent", self.clock())
            out.messages += 1
            out.alerts += len(ids)
            if on_message is not None:
                on_message()

    def _plan(self, conn: Connection, rows: list[Any], now: dt.datetime) -> _Plan:
        """Split a claim into messages (an instant alert each, a digest per account and mode),
        rows dropped, and rows that wait (with when)."""
        plan = _Plan()
        account_ids = sorted({r["account_id"] for r in rows})
        accounts = {
            a[0]: Recipient(*a)
            for a in conn.execute(select(*RECIPIENT_COLUMNS).where(ACCOUNTS.c.id.in_(account_ids)))
        }
        choices = prefs_.load_many(conn, account_ids)
        reader = Reader(conn, self.cache.keyring, self.config.attached())
        today = now.astimezone(self.tz).date()
        runs: dict[str, int | None] = {}
        handles: dict[tuple[str, str], StudentHandle | None] = {}
        records = self._records(conn, rows, runs)
        groups: dict[tuple[str, str, int], list[tuple[Any, Item]]] = defaultdict(list)
        dues: dict[tuple[str, dt.datetime], dt.datetime] = {}
        for row in rows:
            account = accounts.get(row["account_id"])
            if account is None or account.status != "active":
                plan.drop.append(row)
                continue
            run = self._run(conn, runs, account.source)
            key = (account.id, row["student_ref"])
            if key not in handles:
                # The API's own question: may this account see this child now?
                handles[key] = (
                    None
                    if run is None
                    else reader.student(principal(account), run, today, row["student_ref"])
                )
            handle = handles[key]
            chosen = choices.get(account.id, NO_CHOICES)
            mode = chosen.mode(self.settings, row["student_ref"], row["kind"])
            if handle is None or mode == "off":
                plan.drop.append(row)
                continue
            shown = self._shown(reader, handle, row, records, chosen.score_threshold(self.settings), now)
            if shown is None:
                plan.drop.append(row)
                continue
            if shown is not True:
                plan.wait.append((row, shown, None))
                continue
            # Due by the family's choice now, not the one it had when the row was queued.
            due = dues.get((mode, row["visible_at"]))
            if due is None:
                due = dues[(mode, row["visible_at"])] = due_at(
                    mode, row["visible_at"], self.settings, self.tz
                )
            if due > now:
                plan.wait.append((row, due, mode))
                continue
            first = handle.data.get("preferred_first_name") or handle.data.get("legal_first_name") or ""
            # An instant alert is a message of its own; a digest collects its account's rows.
            group = (account.id, mode, row["id"] if mode == "instant" else 0)
            groups[group].append((row, Item(row["kind"], str(first))))
        emails = self._emails(conn, [accounts[a] for a in {g[0] for g in groups}], runs)
        for (account_id, mode, _), keep in groups.items():
            email = emails.get(account_id)
            if not email:
                plan.drop += [row for row, _ in keep]
                continue
            plan.messages.append(
                (accounts[account_id], mode, email, choices.get(account_id, NO_CHOICES), keep)
            )
        return plan

    @staticmethod
    def _run(conn: Connection, runs: dict[str, int | None], source: str) -> int | None:
        if source not in runs:
            state = load_state(conn, source)
            runs[source] = None if state is None else state.published_run
        return runs[source]

    def _records(self, conn: Connection, rows: list[Any], runs: dict[str, int | None]) -> dict[Any, Any]:
        """The current version of each row's record (a result with its assignment), opened:
        (source, kind, ref) -> ((student ref, stamp, day, audience), data, points possible)."""
        r = RECORDS.c
        keyring = self.cache.keyring
        wanted: dict[tuple[str, str], set[str]] = defaultdict(set)
        for row in rows:
            wanted[(row["source"], row["record_kind"])].add(row["record_ref"])
        found: dict[Any, Any] = {}
        for (source, kind), refs in wanted.items():
            run = self._run(conn, runs, source)
            if run is None:
                continue
            got: list[Any] = []
            for chunk in chunks(sorted(refs)):
                q = select(
                    r.ref, r.student_ref, r.stamp, r.day, r.key_id, r.payload, r.parent_ref, r.audience
                ).where(r.source == source, r.kind == kind, r.ref.in_(chunk), current_in(run))
                got += list(conn.execute(q))
            assignments: dict[str, Any] = {}
            if kind == "result":
                for chunk in chunks(sorted({g.parent_ref for g in got if g.parent_ref})):
                    q = select(r.ref, r.stamp, r.day, r.key_id, r.payload).where(
                        r.source == source, r.kind == "assignment", r.ref.in_(chunk), current_in(run)
                    )
                    assignments.update({a.ref: a for a in conn.execute(q)})
            for g in got:
                data = open_row(keyring, source, kind, g.ref, g.key_id, g.payload)
                when, points = (g.stamp, g.day), None
                if kind == "result":
                    a = assignments.get(g.parent_ref or "")
                    if a is None:
                        continue
                    when = (a.stamp, a.day)
                    p = open_row(keyring, source, "assignment", a.ref, a.key_id, a.payload).get(
                        "points_possible"
                    )
                    points = float(p) if p else None
                found[(source, kind, g.ref)] = ((g.student_ref, *when, g.audience), data, points)
        return found

    def _shown(
        self,
        reader: Reader,
        handle: StudentHandle,
        row: Any,
        records: dict[Any, Any],
        threshold: float,
        now: dt.datetime,
    ) -> Literal[True] | dt.datetime | None:
        """True when the portal shows the record now with this alert kind; None when it no
        longer has it (deleted, corrected, another child's); else when to look again."""
        found = records.get((row["source"], row["record_kind"], row["record_ref"]))
        if found is None:
            return None
        (student_ref, stamp, day, audience), data, points = found
        if row["kind"] not in news(classify(row["record_kind"], data, points), None, threshold):
            return None
        if row["record_kind"] == "notice":
            # A notice is the child's if its audience is one of the child's now (the API's rule).
            today = now.astimezone(self.tz).date()
            if audience not in queries.audiences(reader, [handle], today):
                return None
        elif student_ref != handle.ref:
            return None
        school = str(handle.data.get("school_id"))
        tz = self._zones.get((handle.source, school))
        if tz is None:
            tz = self._zones[(handle.source, school)] = school_zone(reader, handle, self.tz)
        rule = rule_for(
            self.config.visibility, "assignment" if row["record_kind"] == "result" else row["record_kind"]
        )
        if window(rule, now, tz).shows(stamp, day):
            return True
        return max(visible_from(rule, stamp, day, tz, now), now + dt.timedelta(seconds=1))

    def _emails(
        self, conn: Connection, accounts: list[Recipient], runs: dict[str, int | None]
    ) -> dict[str, str]:
        """Each account holder's email, from the published snapshot (the SIS is the truth)."""
        r = RECORDS.c
        out: dict[str, str] = {}
        wanted: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
        for a in accounts:
            wanted[(a.source, "contact" if a.role == "guardian" else "student")][a.subject_ref] = a.id
        for (source, kind), by_ref in wanted.items():
            run = self._run(conn, runs, source)
            if run is None:
                continue
            for chunk in chunks(sorted(by_ref)):
                q = select(r.ref, r.key_id, r.payload).where(
                    r.source == source, r.kind == kind, r.ref.in_(chunk), current_in(run)
                )
                for ref, key_id, payload in conn.execute(q):
                    email = open_row(self.cache.keyring, source, kind, ref, key_id, payload).get("email")
                    if email:
                        out[by_ref[ref]] = str(email)
        return out

    # --- outcomes ------------------------------------------------------------------------

    # Each outcome is its own short transaction on the claim's connection, by the claim's
    # token: a message is marked sent the moment it is (driver-level SQL: one digest each).

    def _finish(self, conn: Connection, token: str, ids: list[int], status: str, now: dt.datetime) -> None:
        bind = binder(conn.dialect.name)
        ph = placeholder(conn.dialect.name)
        conn.exec_driver_sql(
            f"UPDATE alert_outbox SET status = {ph}, sent_at = {ph}, claim = NULL, claimed_until = NULL "  # noqa: S608
            f"WHERE claim = {ph} AND id IN ({_ids(ids)})",
            (status, bind(now) if status == "sent" else None, token),
        )
        conn.commit()

    def _release(
        self, conn: Connection, token: str, ids: list[int], at: dt.datetime, mode: str | None = None
    ) -> None:
        ph = placeholder(conn.dialect.name)
        at_ = binder(conn.dialect.name)(at)
        sets, params = (
            (f"due_at = {ph}", [at_]) if mode is None else (f"due_at = {ph}, mode = {ph}", [at_, mode])
        )
        conn.exec_driver_sql(
            f"UPDATE alert_outbox SET {sets}, claim = NULL, claimed_until = NULL "  # noqa: S608
            f"WHERE claim = {ph} AND id IN ({_ids(ids)})",
            (*params, token),
        )
        conn.commit()

    def _failed(
        self,
        conn: Connection,
        token: str,
        keep: list[tuple[Any, Item]],
        now: dt.datetime,
        error: str,
        out: Sent,
    ) -> None:
        """An SMTP failure: try again after a doubling wait, or give up after ``max_attempts``."""
        s = self.settings
        o = OUTBOX.c
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
        conn.commit()
        log.warning("alerts.send_failed", error_class=error, rows=len(keep))


def _ids(ids: list[int]) -> str:
    return ",".join(str(int(i)) for i in ids)


@dataclass
class Stats:
    """The outbox for ``portico status`` and ``/metrics``: counts by status, failures, the oldest due."""

    by_status: dict[str, int]
    retrying: int
    oldest_due: dt.datetime | None
    news: int = 0  # news rows of publishes not yet expanded into the outbox


def stats(conn: Connection, now: dt.datetime) -> Stats:
    o = OUTBOX.c
    rows = conn.execute(text("SELECT status, count(*) FROM alert_outbox GROUP BY status")).all()
    retrying = conn.execute(
        select(text("count(*)")).select_from(OUTBOX).where(o.status == "pending", o.attempts > 0)
    ).scalar()
    oldest = conn.execute(
        select(o.due_at).where(o.status == "pending", o.due_at <= now).order_by(o.due_at).limit(1)
    ).scalar()
    news = conn.execute(text("SELECT count(*) FROM alert_news")).scalar()
    return Stats({str(s): int(n) for s, n in rows}, int(retrying or 0), oldest, int(news or 0))
