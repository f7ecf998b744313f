"""Prometheus counters of the encrypted channel (process-wide, exposed at the kernel's ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter

ENVELOPES = Counter(
    "stic_secure_envelopes_total",
    "Encrypted request envelopes received by the gateway, by result ('ok' or the refusal code).",
    ["result"],
)
SESSIONS_OPENED = Counter(
    "stic_secure_sessions_opened_total",
    "Encrypted sessions opened by SM2 key exchange.",
)
