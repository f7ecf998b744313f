"""Routing failures. The gateway answers both with 503 in the OpenAI error shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from inference.engines.errors import EngineError, EngineUnavailableError


class NoHealthyReplica(EngineError):
    """No endpoint of a replica set can take the request.

    ``reasons`` maps every endpoint id to why it was excluded ("unhealthy: ...", "ejected ...",
    "already tried"); it is empty when the set has no endpoints at all. The message lists them.
    """

    def __init__(self, model: str, reasons: Mapping[str, str]) -> None:
        self.model = model
        self.reasons = dict(reasons)
        what = f"model {model!r}" if model else "replica set"
        if not reasons:
            message = f"no replicas available for {what}: it has no endpoints"
        else:
            listed = "; ".join(f"{eid}: {why}" for eid, why in sorted(self.reasons.items()))
            message = f"no healthy replica for {what} ({listed})"
        super().__init__(message)


class AllReplicasFailed(EngineUnavailableError):
    """Every attempt of ``with_failover`` failed before the first byte.

    ``tried`` lists the endpoint ids in attempt order and ``errors`` the message each one failed
    with; the last underlying error is chained as ``__cause__``.
    """

    def __init__(self, model: str, tried: Sequence[str], errors: Sequence[str], *, note: str = "") -> None:
        self.model = model
        self.tried = list(tried)
        self.errors = list(errors)
        what = f"model {model!r}" if model else "replica set"
        attempts = "; ".join(f"{eid}: {err}" for eid, err in zip(self.tried, self.errors, strict=True))
        message = f"all {len(self.tried)} attempt(s) failed for {what} ({attempts})"
        if note:
            message += f"; {note}"
        super().__init__(message, after_first_byte=False)
