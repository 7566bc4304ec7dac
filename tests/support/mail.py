"""A real SMTP server on loopback (aiosmtpd) that keeps every message it receives."""

from __future__ import annotations

import email
import email.message
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.net import free_port


@dataclass(frozen=True)
class Received:
    sender: str
    to: list[str]
    content: bytes

    @property
    def message(self) -> email.message.Message:
        return email.message_from_bytes(self.content)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Received] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def token(self, to: str) -> str:
        """The last token (a line of 40+ URL-safe characters) in the latest message to ``to``."""
        body = next(m for m in map(lambda r: r.message, reversed(self.messages)) if m["To"] == to)
        text = body.get_payload(decode=True).decode()  # type: ignore[union-attr]
        return str(re.findall(r"^([A-Za-z0-9_-]{40,})\r?$", text, re.M)[-1])


@contextmanager
def smtp_server(inbox: Inbox | None = None) -> Iterator[tuple[Inbox, int]]:
    """An SMTP server on 127.0.0.1: its inbox (``inbox``, or a new one) and port, stopped afterwards."""
    inbox, port = inbox or Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()
