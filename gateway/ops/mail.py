"""Outgoing mail for invitations, password resets, expiry reminders and alerts: SMTP or a file outbox.

A backend is chosen by name in config (``mail.backend``). The outbox writes one
``.eml`` file per message into ``mail.outbox_dir`` for the demo and for districts that
hand mail to another system. Errors are translated into :class:`MailError` naming the
backend only: never the recipient or the message.
"""

from __future__ import annotations

import email.policy
import os
import secrets
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any, Protocol

import structlog
from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from cache.tables.accounts import MailCount
from cache.tables.core import core_table
from config.errors import PorticoError
from config.secrets import SecretResolver
from config.settings import MailSettings

log = structlog.get_logger("portico.mail")


class MailError(PorticoError):
    """A message could not be handed to the mail backend."""


# What a message is for: the label of the mail counters on /metrics.
MAIL_KINDS = ("invitation", "password-reset", "reminder", "correction", "alert", "other")


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    body: str
    # An HTML alternative to ``body`` (alerts), and extra headers such as List-Unsubscribe.
    html: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    # The left part of a stable Message-ID (alerts: the same message sent again after a
    # crash carries the same id, so mail clients can tell); None: a fresh one.
    message_id: str | None = None
    kind: str = "other"  # one of MAIL_KINDS


class Mailer(Protocol):
    def send(self, message: Message) -> None: ...


# Headers up to RFC 5322's line limit, so a long List-Unsubscribe URL stays one plain line
# (folded at 78, a URL without spaces would be RFC 2047-encoded, which clients reject).
_LONG_LINES = email.policy.default.clone(max_line_length=998)


def _build(sender: str, m: Message) -> EmailMessage:
    em = EmailMessage(policy=_LONG_LINES) if m.headers else EmailMessage()
    em["From"], em["To"], em["Subject"] = sender, m.to, m.subject
    em["Date"] = formatdate(localtime=False)
    domain = sender.rpartition("@")[2] or "localhost"
    em["Message-ID"] = f"<{m.message_id}@{domain}>" if m.message_id else make_msgid(domain=domain)
    em.set_content(m.body)
    if m.html is not None:
        em.add_alternative(m.html, subtype="html")
    # After the parts: making a message multipart moves its Content-* headers into the first part.
    for name, value in m.headers:
        em[name] = value
    return em


class OutboxMailer:
    """One ``.eml`` file per message, readable only by the owner (it holds a token)."""

    def __init__(self, settings: MailSettings, base_dir: Path | None = None) -> None:
        self.sender = settings.from_address
        out = Path(settings.outbox_dir)
        self.dir = out if out.is_absolute() or base_dir is None else base_dir / out

    def send(self, message: Message) -> None:
        path = self.dir / f"{secrets.token_hex(8)}.eml"
        try:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(bytes(_build(self.sender, message)))
        except OSError as exc:
            raise MailError(f"outbox: cannot write to {self.dir} ({type(exc).__name__})") from None


class SmtpMailer:
    """SMTP with optional STARTTLS and login; the password comes from a secret reference."""

    def __init__(
        self, settings: MailSettings, secrets_: SecretResolver | None = None, timeout: float = 10
    ) -> None:
        self.s = settings
        self.password = (
            (secrets_ or SecretResolver()).resolve(settings.smtp_password) if settings.smtp_password else None
        )
        self.timeout = timeout

    def check(self) -> None:
        """Connect, greet (EHLO), STARTTLS and log in as configured, then quit: no mail is sent.
        Raises MailError naming the server and what failed."""
        s = self.s
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=self.timeout) as smtp:
                code, _ = smtp.ehlo()
                if code != 250:
                    raise MailError(f"smtp {s.smtp_host}:{s.smtp_port}: EHLO answered {code}")
                if s.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if s.smtp_username and self.password is not None:
                    smtp.login(s.smtp_username, self.password)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"smtp {s.smtp_host}:{s.smtp_port}: {type(exc).__name__}") from None

    def send(self, message: Message) -> None:
        s = self.s
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=self.timeout) as smtp:
                if s.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.smtp_username and self.password is not None:
                    smtp.login(s.smtp_username, self.password)
                smtp.send_message(_build(s.from_address, message))
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"smtp {s.smtp_host}:{s.smtp_port}: {type(exc).__name__}") from None


class CountingMailer:
    """A mailer that counts what it hands over, by kind and outcome, in the cache's
    ``mail_count`` table: every process that sends (API, worker, CLI) adds to the same
    figures, which ``/metrics`` reads. Never the recipient or the message."""

    def __init__(self, inner: Mailer, engine: Engine) -> None:
        self.inner, self.engine = inner, engine

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # the backend's own attributes (a test's outbox)

    def send(self, message: Message) -> None:
        kind = message.kind if message.kind in MAIL_KINDS else "other"
        try:
            self.inner.send(message)
        except MailError:
            self._count(kind, "failed")
            raise
        self._count(kind, "sent")

    def _count(self, kind: str, outcome: str) -> None:
        table = core_table(MailCount)
        insert = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        stmt = insert(table).values(kind=kind, outcome=outcome, count=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.kind, table.c.outcome], set_={"count": table.c.count + 1}
        )
        try:
            with self.engine.begin() as conn:
                conn.execute(stmt)
        except SQLAlchemyError as exc:  # a count lost is not a reason to fail the mail
            log.warning("mail.count_failed", error_class=type(exc).__name__)


def mail_counts(engine: Engine) -> dict[tuple[str, str], int]:
    """(kind, outcome) -> messages, as counted by :class:`CountingMailer`."""
    table = core_table(MailCount)
    with engine.connect() as conn:
        rows = conn.execute(select(table.c.kind, table.c.outcome, table.c.count)).all()
    return {(kind, outcome): int(n) for kind, outcome, n in rows}


def mailer_from(
    settings: MailSettings, secrets_: SecretResolver | None = None, base_dir: Path | None = None
) -> Mailer:
    if settings.backend == "smtp":
        return SmtpMailer(settings, secrets_)
    return OutboxMailer(settings, base_dir)
