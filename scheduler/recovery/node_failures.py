"""Task failures seen on a node, counted within a sliding time window, and the cordon rule.

A node is cordoned when its last ``threshold`` failures, all inside the window, came from at least
two different jobs (one job failing alone is more likely the job's fault than the node's). Failures
older than the window age out, so a node that failed twice last week is not cordoned by one
failure today. Records are stored as JSON ``{"job": id, "at": ISO-8601}``; entries without a time
(the format before the window existed) count as aged out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

KEEP = 20


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """One task failure of ``job`` on the node at ``at``."""

    job: str
    at: datetime

    def to_json(self) -> dict[str, str]:
        """The stored form."""
        return {"job": self.job, "at": self.at.isoformat()}


def _parse(raw: Any) -> FailureRecord | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("job"), str):
        return None
    try:
        at = datetime.fromisoformat(str(raw.get("at")))
    except ValueError:
        return None
    return FailureRecord(raw["job"], at)


def recent_failures(stored: Iterable[Any], *, now: datetime, window_s: float) -> list[FailureRecord]:
    """The stored records no older than ``window_s`` seconds before ``now``, oldest first."""
    since = now - timedelta(seconds=window_s)
    records = [r for r in (_parse(x) for x in stored) if r is not None and r.at >= since]
    return sorted(records, key=lambda r: r.at)


def record_failure(stored: Iterable[Any], *, job: str, now: datetime, window_s: float) -> list[FailureRecord]:
    """Recent records (see :func:`recent_failures`) plus a new one for ``job``; at most 20 kept."""
    return [*recent_failures(stored, now=now, window_s=window_s), FailureRecord(job, now)][-KEEP:]


def cordon_reason(records: list[FailureRecord], *, threshold: int, window_s: float) -> str | None:
    """Why the node must be cordoned, or None: the last ``threshold`` records span two jobs or more."""
    last = records[-threshold:]
    jobs = {r.job for r in last}
    if len(last) < threshold or len(jobs) < 2:
        return None
    return f"{len(last)} task failures of {len(jobs)} jobs within {window_s:g}s"
