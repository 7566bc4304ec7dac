"""Pruning finished alerts: old ones go, except those whose record version is still current
(their key is what stops that version being announced twice); a re-sync of the same data
and a second detection after pruning send nothing; pending alerts are never pruned."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError
from sqlalchemy import select

from cache.tables.alerts import AlertOutbox
from cache.tables.core import core_table
from config.settings import AlertSettings
from connectors.records import AttendanceCategory
from gateway.alerts import detect, prune
from gateway.cli import main
from tests.support.alerts import TODAY, config_file, family, incident, mark, ny
from tests.support.mail import smtp_server

OUTBOX = core_table(AlertOutbox)
YESTERDAY = TODAY - dt.timedelta(days=1)
KEEP = dt.timedelta(days=30)


def _statuses(fam) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    fam.expand()
    with fam.app.cache.engine.connect() as conn:
        return sorted((k, s) for k, s in conn.execute(select(OUTBOX.c.kind, OUTBOX.c.status)))


def test_old_sent_alerts_are_pruned_only_when_their_version_is_no_longer_current(
    tmp_path: Path, db_url: str
) -> None:
    with smtp_server() as (inbox, port):
        fam = family(
            tmp_path,
            db_url,
            port,
            defaults={"behaviour": "instant", "unauthorised_absence": "instant", "absence": "instant"},
        )
        app = fam.app
        fam.clock.at = ny(8)
        absence = mark("00001", YESTERDAY, AttendanceCategory.UNAUTHORISED_ABSENCE, ny(15, day=YESTERDAY))
        out = fam.sync(attendance=[absence], behaviour=[incident("00001", 1, ny(6))])
        run = int(out.run_id or 0)
        assert app.send_alerts().messages == 2
        assert _statuses(fam) == [("behaviour", "sent"), ("unauthorised_absence", "sent")]

        # A month on: both are old, both versions current: kept, and nothing is sent again.
        fam.clock.at = ny(8) + KEEP + dt.timedelta(days=1)
        assert prune.prune(app.cache.engine, fam.clock(), KEEP) == 0
        fam.sync()
        assert detect.detect(app.cache, app.config, "sis", run, fam.clock()).queued > 0  # the news again
        assert fam.expand() == 0  # expanded to keys already used: nothing queued

        # The absence corrected to authorised (news: an absence), the incident unchanged.
        corrected = dataclasses.replace(absence, category=AttendanceCategory.AUTHORISED_ABSENCE)
        fam.records["attendance"] = [r for r in fam.records["attendance"] if r is not absence] + [corrected]
        fam.sync()
        assert app.send_alerts().messages == 1  # "an absence", at once by default
        assert len(inbox.messages) == 3
        # The unauthorised alert's version is gone: it is pruned; the incident's is kept;
        # the new absence alert is too recent.
        fam.clock.at += dt.timedelta(days=31)
        seen: list[int] = []
        assert prune.prune(app.cache.engine, fam.clock(), KEEP, batch=1, progress=seen.append) == 1
        assert seen == [1]
        assert _statuses(fam) == [("absence", "sent"), ("behaviour", "sent")]

        # Synced again, detected again: the pruned key announces nothing.
        fam.sync()
        assert detect.detect(app.cache, app.config, "sis", run, fam.clock()).queued > 0  # the news again
        assert fam.expand() == 0  # the absence's key was pruned, but its version is gone
        assert app.send_alerts().messages == 0
        assert len(inbox.messages) == 3
        app.dispose()


def test_pending_alerts_are_never_pruned_and_the_command_reports_progress(
    tmp_path: Path, sqlite_url: str
) -> None:
    fam = family(tmp_path, sqlite_url)
    fam.clock.at = ny(8)
    fam.sync(behaviour=[incident("00001", 1, ny(6))])  # a daily digest row: pending
    assert prune.prune(fam.app.cache.engine, fam.clock() + dt.timedelta(days=400), KEEP) == 0
    assert _statuses(fam) == [("behaviour", "pending")]
    config = str(config_file(fam, tmp_path / "portico.yaml"))
    fam.app.dispose()
    runner = CliRunner()
    r = runner.invoke(main, ["--config", config, "alerts", "prune"])
    assert r.exit_code == 0 and "pruned 0 finished alerts older than 30 days" in r.output, r.output
    assert runner.invoke(main, ["--config", config, "alerts", "prune", "--help"]).exit_code == 0


def test_keep_sent_is_validated() -> None:
    assert AlertSettings().keep_sent == KEEP
    assert AlertSettings.model_validate({"keep_sent": "P90D"}).keep_sent == dt.timedelta(days=90)
    for bad in ("PT1H", "P20000D", "soon"):
        with pytest.raises(ValidationError, match="keep_sent"):
            AlertSettings.model_validate({"keep_sent": bad})
