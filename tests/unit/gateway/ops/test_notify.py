"""Outgoing mail: delivered to the configured SMTP relay, or a safe error naming only the relay."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.ops.mail import MailError, Message, mailer_from
from tests.support.config import make_config
from tests.support.mail import smtp_server
from tests.support.net import free_port


def test_a_message_goes_to_the_configured_smtp_relay(tmp_path: Path, sqlite_url: str) -> None:
    with smtp_server() as (inbox, port):
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
    [got] = inbox.messages
    assert got.sender == "portico@d.example" and got.to == ["office@school.example.org"]
    assert b"Please check." in got.content


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
