"""Two API replicas and two workers on one PostgreSQL cache behind HAProxy (tests.support.replicas).

Bounded to about a minute; ``scripts/replicas`` is the longer run with more readers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.support.replicas import haproxy_binary, run, summary


@pytest.mark.postgres
def test_two_replicas_behind_haproxy_share_state_serve_whole_snapshots_and_survive_a_sigkill(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if haproxy_binary() is None:
        reason = "haproxy is not installed (scripts/setup_haproxy installs Debian's as root)"
        if IN_CI:
            pytest.fail(reason + "; CI must run the replica test")
        pytest.skip(reason)
    readers = 4
    report = run(tmp_path, pg_url, students=40, readers=readers, seconds=16.0, kill_at=6.0)
    with capsys.disabled():
        print(f"\n  [figure] {summary(report)}")

    # Replicas starting at once upgrade the schema once: one ran the revisions, the other found them done.
    outs = report.upgrade_outputs
    assert sum("cache: upgraded (no schema) ->" in o for o in outs) == 1, outs
    assert sum("cache: already at" in o for o in outs) == 1, outs
    assert len(report.cache_revisions) == 1

    # Sessions, throttles and audit live in the database, not in a replica.
    assert report.session_shared and report.logout_shared
    # Five free failures per username. Alternating replicas, a throttle kept per replica would
    # first answer 429 on attempt 12 (0-based), when one replica alone had seen six failures;
    # the shared one answers it once six failures in all are counted (later when a wait has
    # run out between two slow sign-ins on a loaded machine).
    assert 6 <= report.throttled_after < 12, report.throttled_after
    assert report.throttle_failures_recorded >= 6
    assert report.audit_accounts["api-a"] >= 5 and report.audit_accounts["api-b"] >= 5, report.audit_accounts
    assert report.audit_verify.startswith("exit 0"), report.audit_verify

    # Syncs published while both replicas served; no response mixed two snapshots.
    assert report.snapshots_seen >= 2, report.versions_by_snapshot
    assert report.mixed == []
    seen = {v for versions in report.versions_by_snapshot.values() for v in versions}
    assert seen == {"8a", "8b"}, report.versions_by_snapshot  # both versions of the source were served

    # SIGKILL of one replica under load: HAProxy retried what it could on the other. What
    # fails is only an answer the kill cut after its head had reached the client (no balancer
    # can send that again): at most the one request each reader had in flight.
    assert report.after_kill > 0 and report.before_kill > 0
    # HAProxy's log names each GET's end, failed or not, but for the lines it says it dropped
    # (its stdout log is written without blocking; about one in 8,000 under this load). A
    # failed GET whose line is missing counts as one the balancer could have retried.
    assert report.logged + report.haproxy_dropped_logs >= report.requests, report.unlogged
    assert report.failed == report.cut_in_flight <= readers, (report.by_status, report.failures)

    # The scheduler lock: two workers, one sync of the connector at a time.
    assert report.worker_exit == [0, 0]
    assert report.runs >= 3 and report.overlapping_runs == 0
    assert report.skipped_locked >= 1
