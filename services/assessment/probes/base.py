"""The probe protocol and the context a probe runs in.

A probe names the clause ids it covers and implements ``async def run(ctx) -> ProbeResult``. It talks
to the deployment only through ``ctx`` (``ctx.get``/``ctx.post``/…), which sends the admin key as
``Authorization: Bearer <key>`` unless told not to, and records every call as evidence: method, path,
status code, SM3 of the response body, elapsed milliseconds. The probe ends with ``ctx.verified(...)``,
``ctx.simulated(...)``, ``ctx.failed(...)`` or ``ctx.not_implemented(...)``; ``ctx.require(cond, msg)``
raises :class:`ProbeFailure`, which the runner records as ``failed``. Any other exception is ``error``.

Example::

    class HealthProbe:
        name = "kernel.health"
        clause_ids = ("6.4.3.b",)

        async def run(self, ctx: ProbeContext) -> ProbeResult:
            response = await ctx.get("/healthz", authenticated=False)
            ctx.require(response.status_code == 200, f"/healthz answered {response.status_code}")
            return ctx.verified("liveness endpoint answers")
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import httpx

from services.assessment.digest import sm3_hex
from services.assessment.evidence import Evidence, http_call
from services.assessment.status import PROBE_STATUSES, Status


class ProbeFailure(Exception):
    """Raised by a probe (usually via :meth:`ProbeContext.require`) when the capability misbehaves."""


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What a probe found.

    ``status`` applies to every clause the probe covers, except those named in ``clause_status``
    (a probe covering several clauses may find one of them wanting).
    """

    status: Status
    message: str
    evidence: tuple[Evidence, ...] = ()
    clause_status: Mapping[str, Status] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for status in (self.status, *self.clause_status.values()):
            if status not in PROBE_STATUSES:
                raise ValueError(f"a probe cannot report {status!r}; allowed: {sorted(PROBE_STATUSES)}")


@runtime_checkable
class Probe(Protocol):
    """A check of one capability; see the module docstring."""

    name: str
    clause_ids: tuple[str, ...]

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        """Exercise the capability through ``ctx`` and report what was found."""
        ...


class ProbeContext:
    """The deployment as a probe sees it, plus the evidence the probe accumulates.

    One context serves one probe run; the runner creates a fresh one per probe around a shared client.
    """

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        admin_key: str,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.client = client
        self.admin_key = admin_key
        self._clock = clock
        self._evidence: list[Evidence] = []

    @property
    def evidence(self) -> tuple[Evidence, ...]:
        """Evidence recorded so far, in order."""
        return tuple(self._evidence)

    async def request(
        self,
        method: str,
        path: str,
        *,
        authenticated: bool = True,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request to the deployment and record it; transport errors are recorded and re-raised."""
        merged = dict(headers or {})
        if authenticated:
            merged.setdefault("Authorization", f"Bearer {self.admin_key}")
        started = self._clock()
        try:
            response = await self.client.request(method, path, headers=merged, **kwargs)
        except httpx.HTTPError as exc:
            elapsed = (self._clock() - started) * 1000
            self._evidence.append(
                http_call(
                    method=method,
                    path=path,
                    status_code=None,
                    body_sm3=None,
                    elapsed_ms=elapsed,
                    error=repr(exc),
                )
            )
            raise
        elapsed = (self._clock() - started) * 1000
        self._evidence.append(
            http_call(
                method=method,
                path=path,
                status_code=response.status_code,
                body_sm3=sm3_hex(response.content),
                elapsed_ms=elapsed,
                error=None,
            )
        )
        return response

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """``request("GET", path, ...)``."""
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        """``request("POST", path, ...)``."""
        return await self.request("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> httpx.Response:
        """``request("PUT", path, ...)``."""
        return await self.request("PUT", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        """``request("PATCH", path, ...)``."""
        return await self.request("PATCH", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        """``request("DELETE", path, ...)``."""
        return await self.request("DELETE", path, **kwargs)

    def note(self, summary: str, **details: Any) -> None:
        """Record an observation that is not an HTTP call (e.g. a value read from a response)."""
        self._evidence.append(Evidence(kind="note", summary=summary, details=details))

    def require(self, condition: bool, message: str) -> None:
        """Raise :class:`ProbeFailure` with ``message`` unless ``condition`` holds."""
        if not condition:
            raise ProbeFailure(message)

    def result(
        self, status: Status, message: str, *, clause_status: Mapping[str, Status] | None = None
    ) -> ProbeResult:
        """A :class:`ProbeResult` carrying the evidence recorded so far."""
        return ProbeResult(status, message, self.evidence, dict(clause_status or {}))

    def verified(self, message: str, **kwargs: Any) -> ProbeResult:
        """Passed on real components."""
        return self.result(Status.VERIFIED, message, **kwargs)

    def simulated(self, message: str, **kwargs: Any) -> ProbeResult:
        """Passed, but the infrastructure behind it is simulated (say which in ``message``)."""
        return self.result(Status.SIMULATED, message, **kwargs)

    def failed(self, message: str, **kwargs: Any) -> ProbeResult:
        """The capability did not behave as the clause requires."""
        return self.result(Status.FAILED, message, **kwargs)

    def not_implemented(self, message: str, **kwargs: Any) -> ProbeResult:
        """The deployment does not offer the capability (e.g. the feature is switched off)."""
        return self.result(Status.NOT_IMPLEMENTED, message, **kwargs)
