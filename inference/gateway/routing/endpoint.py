"""What the router knows about one upstream replica: its static spec and its live state."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    """One replica as the directory describes it.

    ``id`` is stable for the replica's life (the replica id); ``api_base`` ends with ``/v1``;
    ``health_url`` is probed by :class:`~inference.gateway.routing.health.HealthChecker` (an empty
    string means "not probed", e.g. an external upstream without ``/health``); ``weight`` (≥ 0) is
    used by the ``weighted`` policy; ``api_key`` is only set for external OpenAI-compatible upstreams;
    ``protocol`` is how the request path talks to it: ``http1`` or ``h2c`` (HTTP/2 cleartext).
    """

    id: str
    api_base: str
    health_url: str
    weight: float = 1.0
    api_key: str | None = None
    protocol: str = "http1"

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("EndpointSpec.id must not be empty")
        if not self.weight >= 0.0:  # also rejects NaN
            raise ValueError(f"EndpointSpec.weight must be >= 0, got {self.weight!r} for {self.id!r}")


@dataclass(slots=True, eq=False)
class Endpoint:
    """Live view of one endpoint inside a :class:`~inference.gateway.routing.replica_set.ReplicaSet`.

    The replica set owns and mutates it; callers read it. ``outstanding`` counts requests started
    and not yet finished. ``healthy`` is the active health verdict. ``ejected_until`` is the
    monotonic time at which a passive ejection ends (``None`` when not ejected); ``probation`` is set
    when an ejection ends and cleared by the next success — a failure during probation ejects again
    at once. ``member`` turns false when a sync drops the endpoint (requests still in flight on it
    then finish without touching metrics).
    """

    spec: EndpointSpec
    outstanding: int = 0
    healthy: bool = True
    ejected_until: float | None = None
    probation: bool = False
    consecutive_failures: int = 0
    times_ejected: int = 0
    last_decay_at: float = 0.0
    health_failures: int = 0
    health_successes: int = 0
    last_health_error: str | None = None
    requests_total: int = 0
    failures_total: int = 0
    latency_ewma_s: float | None = None
    member: bool = field(default=True)

    @property
    def id(self) -> str:
        """The spec's id (shortcut)."""
        return self.spec.id

    def is_ejected(self, now: float) -> bool:
        """True while a passive ejection is in force at monotonic time ``now``."""
        return self.ejected_until is not None and now < self.ejected_until

    def __repr__(self) -> str:
        return (
            f"Endpoint({self.spec.id!r}, outstanding={self.outstanding}, healthy={self.healthy}, "
            f"ejected_until={self.ejected_until})"
        )


@dataclass(frozen=True, slots=True)
class RequestKey:
    """What affinity policies hash: a session id, a user id, and/or a prompt prefix.

    Build one from an OpenAI request body with :func:`~inference.gateway.routing.keys.request_key_for`.
    """

    session: str | None = None
    user: str | None = None
    prefix: str | None = None

    @property
    def affinity(self) -> str | None:
        """The session-affinity key: the session if given, else the user, else ``None``."""
        return self.session or self.user or None
