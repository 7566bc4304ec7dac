"""kill -9 during alert sending, 30 times: nothing is lost, and only the message in flight may
arrive twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.kill9_alerts import kill_loop, ok


@pytest.mark.slow
def test_thirty_kills_mid_send_lose_nothing_and_double_at_most_the_message_in_flight(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = kill_loop(tmp_path, rounds=30, seed=7)
    with capsys.disabled():
        print(
            f"\n  [figure] alerts kill -9 x{report.kills}: {report.alerts} alerts, {report.before_final} sent by killed "
            f"senders, {report.received} messages received, {report.lost} lost, {report.duplicates} sent twice (at most one per kill), "
            f"integrity {report.integrity}"
        )
    assert report.lost == 0 and report.unsent_rows == 0
    assert report.duplicates <= report.kills
    assert report.integrity == "ok" and report.final_exit == 0
    # the kills landed while sending: messages went out before the final clean run
    assert report.before_final > 0
    assert ok(report)
