"""``portico alerts send | status | detect`` and the outbox line of ``portico status``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from click.testing import CliRunner

from connectors.records import AttendanceCategory
from gateway.cli import main
from tests.support.alerts import TODAY, config_file, family, mark, ny
from tests.support.mail import smtp_server


def test_send_status_and_detect_from_the_command_line(tmp_path: Path, sqlite_url: str) -> None:
    with smtp_server() as (inbox, port):
        fam = family(tmp_path, sqlite_url, port)
        yesterday = TODAY - dt.timedelta(days=1)
        fam.clock.at = ny(8)
        fam.sync(
            attendance=[
                mark("00001", yesterday, AttendanceCategory.UNAUTHORISED_ABSENCE, ny(15, day=yesterday))
            ]
        )
        config = str(config_file(fam, tmp_path / "portico.yaml"))
        fam.app.dispose()
        runner = CliRunner(env={"COLUMNS": "200"})

        def run(*args: str) -> tuple[int, str]:
            r = runner.invoke(main, ["--config", config, *args])
            return r.exit_code, r.output

        # The publish wrote news (one row per record and alert kind), not yet a recipient's row.
        code, out = run("alerts", "status")
        assert code == 0 and out == (
            "alerts: pending 0, sent 0, failed 0, dropped 0; retrying 0; news to expand 1\n"
        ), out
        # Detected again: the news twice, expanded to the one recipient's alert once.
        code, out = run("alerts", "detect")
        assert code == 0 and "1 changed records, 1 news, 1 alerts queued" in out, out
        code, out = run("alerts", "detect")
        assert code == 0 and "0 alerts queued" in out  # already queued: nothing twice
        code, out = run("alerts", "status")
        assert code == 0 and out.startswith(
            "alerts: pending 1, sent 0, failed 0, dropped 0; retrying 0; oldest due "
        ), out
        assert "news" not in out
        code, out = run("alerts", "send")
        assert code == 0 and out.startswith("sent 1 messages (1 alerts)"), out
        assert len(inbox.messages) == 1
        code, out = run("status")
        assert code == 0 and "alerts: pending 0, sent 1, failed 0, dropped 0; retrying 0" in out
        for group in (("alerts", "--help"), ("alerts", "send", "--help"), ("alerts", "status", "--help")):
            assert run(*group)[0] == 0
