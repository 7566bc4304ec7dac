"""Outgoing mail: delivered to the configured SMTP relay, or a safe error naming only the relay."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from gateway.ops.mail import MailError, Message, mailer_from
from tests.fakes import make_config


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_message_goes_to_the_configured_smtp_relay(tmp_path: Path, sqlite_url: str) -> None:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        config, _ = make_config(
            tmp_path,
            sqlite_url,
            mail={
                "backend": "smtp",
                "smtp_host": "127.0.0.1",
                "smtp_port": port,
                "from_address": "portico@d.example",
            },
        )
        mailer_from(config.mail).send(
            Message("office@school.example.org", "Portico correction request cor_1", "Please check.\n")
        )
    finally:
        controller.stop()
    [(sender, to, body)] = inbox.messages
    assert sender == "portico@d.example" and to == ["office@school.example.org"] and b"Please check." in body


def test_an_unreachable_relay_is_a_mail_error_that_names_the_relay_not_the_message(
    tmp_path: Path, sqlite_url: str
) -> None:
    port = free_port()
    config, _ = make_config(
        tmp_path, sqlite_url, mail={"backend": "smtp", "smtp_host": "127.0.0.1", "smtp_port": port}
    )
    with pytest.raises(MailError) as err:
        mailer_from(config.mail).send(Message("office@school.example.org", "subject", "Alexei was present"))
    assert f"127.0.0.1:{port}" in str(err.value) and "Alexei" not in str(err.value)
