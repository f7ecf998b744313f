"""Resident memory and open file descriptors of a server process, sampled while it is loaded.

Linux only (``/proc``); elsewhere the samples are empty and the report says so. Used by
``stic bench gateway`` to state what one held stream costs the gateway and what stopped it.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any


def rss_bytes(pid: int) -> int | None:
    """Resident set size of ``pid`` (bytes), or None when ``/proc`` cannot tell."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds ``pid`` has used so far, or None when ``/proc`` cannot tell."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def open_fds(pid: int) -> int | None:
    """Open file descriptors of ``pid``, or None when ``/proc`` cannot tell."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


@dataclass
class ProcessSampler:
    """Samples ``pid`` every ``interval_s`` in a daemon thread between :meth:`start` and :meth:`stop`."""

    pid: int
    interval_s: float = 0.25
    baseline_rss: int | None = None
    baseline_fds: int | None = None
    peak_rss: int = 0
    peak_fds: int = 0
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Take the baseline and start sampling."""
        self.baseline_rss, self.baseline_fds = rss_bytes(self.pid), open_fds(self.pid)
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"sample-{self.pid}")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            rss, fds = rss_bytes(self.pid), open_fds(self.pid)
            if rss is None or fds is None:
                continue
            self.samples += 1
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_fds = max(self.peak_fds, fds)

    def stop(self) -> dict[str, Any]:
        """Stop sampling; the baseline, the peaks and how many samples were taken."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        return {
            "samples": self.samples,
            "baseline_rss_mib": None if self.baseline_rss is None else self.baseline_rss / 2**20,
            "peak_rss_mib": self.peak_rss / 2**20 if self.samples else None,
            "baseline_fds": self.baseline_fds,
            "peak_fds": self.peak_fds if self.samples else None,
        }
