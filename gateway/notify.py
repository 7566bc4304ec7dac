"""Minimal outgoing mail: ``send(config, to, subject, body)`` by SMTP or into an outbox folder.

The ``outbox`` backend writes one ``.eml`` file per message (mode 600: messages carry
personal data) for the district's own mail system or for review; ``smtp`` talks to
the configured relay only. Errors name the backend and host, never the message.
"""

from __future__ import annotations

import os
import secrets
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from config.errors import PorticoError
from config.secrets import SecretResolver
from config.settings import MailSettings, PorticoConfig


class MailError(PorticoError):
    """A message could not be handed over; the request that caused it is kept for a retry."""


def message(mail: MailSettings, to: str, subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = mail.from_address
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=mail.from_address.rpartition("@")[2] or "portico.invalid")
    msg.set_content(body)
    return msg


def write_outbox(directory: Path, msg: EmailMessage) -> Path:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / f"{secrets.token_hex(8)}.eml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(bytes(msg))
    return path


def send(
    config: PorticoConfig, to: str, subject: str, body: str, secrets_: SecretResolver | None = None
) -> None:
    mail = config.mail
    msg = message(mail, to, subject, body)
    if mail.backend == "outbox":
        try:
            write_outbox(Path(mail.outbox_dir), msg)
        except OSError as exc:
            raise MailError(f"outbox {mail.outbox_dir}: cannot write ({exc.strerror})") from None
        return
    try:
        with smtplib.SMTP(mail.smtp_host, mail.smtp_port, timeout=15) as smtp:
            if mail.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if mail.smtp_username and mail.smtp_password is not None:
                password = (secrets_ or SecretResolver()).resolve(mail.smtp_password)
                smtp.login(mail.smtp_username, password)
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(
            f"SMTP {mail.smtp_host}:{mail.smtp_port}: message not accepted ({type(exc).__name__})"
        ) from None
