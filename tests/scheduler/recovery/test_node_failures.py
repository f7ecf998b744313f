"""Node failures count within a time window; the cordon rule needs failures of several jobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler.recovery.node_failures import cordon_reason, recent_failures, record_failure

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _stored(*ages: tuple[str, float]) -> list[dict[str, str]]:
    return [{"job": job, "at": (NOW - timedelta(seconds=age)).isoformat()} for job, age in ages]


@pytest.mark.parametrize(
    ("stored", "job", "cordon"),
    [
        (_stored(("a", 10), ("b", 5)), "c", True),  # three recent failures of three jobs
        (_stored(("a", 10), ("a", 5)), "a", False),  # one job failing alone: the job's fault
        (_stored(("a", 10), ("b", 5)), "b", True),  # two jobs are enough
        (_stored(("a", 7200), ("b", 3600)), "c", False),  # old failures aged out
        (_stored(("a", 7200), ("b", 30)), "c", False),  # only two inside the window
        (["job_legacy", "job_legacy2"], "c", False),  # entries without a time count as aged out
        ([], "c", False),
    ],
)
def test_cordon_needs_recent_failures_of_several_jobs(stored: list[object], job: str, cordon: bool) -> None:
    records = record_failure(stored, job=job, now=NOW, window_s=600)
    reason = cordon_reason(records, threshold=3, window_s=600)
    assert (reason is not None) is cordon, (records, reason)
    if reason:
        assert "within 600s" in reason


def test_records_outside_the_window_are_dropped_and_at_most_twenty_kept() -> None:
    stored = _stored(*((f"j{i}", float(i)) for i in range(30)), ("old", 601))
    records = record_failure(stored, job="new", now=NOW, window_s=600)
    assert len(records) == 20 and records[-1].job == "new"
    assert all(r.job != "old" for r in records)
    assert [r.at for r in records] == sorted(r.at for r in records)
    assert recent_failures([r.to_json() for r in records], now=NOW, window_s=600) == records
