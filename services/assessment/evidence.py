"""Evidence items attached to probe results and clause results, each renderable as a dict."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Evidence:
    """One piece of evidence.

    ``kind`` is ``http`` (a call to the deployment), ``note`` (an observation a probe recorded),
    ``attestation`` (an operator statement with digested files) or ``derived`` (computed from other
    clauses). ``summary`` is one human-readable line; ``details`` the machine-readable facts.
    """

    kind: str
    summary: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of this evidence."""
        return {"kind": self.kind, "summary": self.summary, **dict(self.details)}


def http_call(
    *,
    method: str,
    path: str,
    status_code: int | None,
    body_sm3: str | None,
    elapsed_ms: float,
    error: str | None,
) -> Evidence:
    """Evidence of one HTTP call: method, path, status (``None`` if no response), SM3 of the body, time."""
    outcome = str(status_code) if status_code is not None else f"no response ({error})"
    return Evidence(
        kind="http",
        summary=f"{method} {path} → {outcome} in {elapsed_ms:.1f} ms",
        details={
            "method": method,
            "path": path,
            "status_code": status_code,
            "response_sm3": body_sm3,
            "elapsed_ms": round(elapsed_ms, 3),
            **({"error": error} if error else {}),
        },
    )
