"""``send(config, to, subject, body)``: one message through the configured mail backend.

A convenience over :mod:`gateway.ops.mail` for callers that hold a config rather than a
mailer (correction requests, the corrections CLI); the one SMTP code path is there.
"""

from __future__ import annotations

from config.secrets import SecretResolver
from config.settings import PorticoConfig
from gateway.ops.mail import MailError, Message, mailer_from

__all__ = ["MailError", "send"]


def send(
    config: PorticoConfig, to: str, subject: str, body: str, secrets_: SecretResolver | None = None
) -> None:
    mailer_from(config.mail, secrets_).send(Message(to=to, subject=subject, body=body))
