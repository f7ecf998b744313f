"""Active health checks: poll each endpoint's ``health_url`` and mark it healthy or unhealthy."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx

from inference.gateway.routing.endpoint import Endpoint
from inference.gateway.routing.replica_set import ReplicaSet

log = logging.getLogger("stic.gateway.routing.health")


class HealthChecker:
    """Polls the ``health_url`` of every endpoint of the watched replica sets every ``interval_s``.

    A probe passes on a 2xx answer within ``timeout_s``. An endpoint turns unhealthy after
    ``unhealthy_threshold`` failed probes in a row and healthy again after ``healthy_threshold``
    passed probes in a row (``pick`` skips unhealthy endpoints). Each distinct URL is probed once
    per round even if it appears in several sets; endpoints with an empty ``health_url`` are not
    probed. Active health does not end a passive ejection early: an engine can answer ``/health``
    and still fail requests.

    ``http`` is the injection seam (tests pass a client on ``httpx.MockTransport``); when omitted
    the checker makes and owns one. :meth:`check_once` runs one round; :meth:`start` runs rounds in
    a background task until :meth:`stop`.
    """

    def __init__(
        self,
        interval_s: float = 5.0,
        timeout_s: float = 2.0,
        http: httpx.AsyncClient | None = None,
        *,
        unhealthy_threshold: int = 3,
        healthy_threshold: int = 2,
        max_concurrency: int = 64,
    ) -> None:
        if interval_s <= 0 or timeout_s <= 0:
            raise ValueError("interval_s and timeout_s must be > 0")
        if unhealthy_threshold < 1 or healthy_threshold < 1:
            raise ValueError("health thresholds must be >= 1")
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.unhealthy_threshold = unhealthy_threshold
        self.healthy_threshold = healthy_threshold
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient()
        self._sets: list[ReplicaSet] = []
        self._limit = asyncio.Semaphore(max_concurrency)
        self._task: asyncio.Task[None] | None = None

    def watch(self, replica_set: ReplicaSet) -> None:
        """Probe ``replica_set``'s endpoints from the next round on (idempotent)."""
        if not any(s is replica_set for s in self._sets):
            self._sets.append(replica_set)

    def unwatch(self, replica_set: ReplicaSet) -> None:
        """Stop probing ``replica_set`` (idempotent)."""
        self._sets = [s for s in self._sets if s is not replica_set]

    async def check_once(self) -> None:
        """Probe every watched endpoint once, concurrently, and apply the verdicts."""
        by_url: dict[str, list[tuple[ReplicaSet, Endpoint]]] = {}
        for replica_set in list(self._sets):
            for endpoint in replica_set.endpoints:
                if endpoint.spec.health_url:
                    by_url.setdefault(endpoint.spec.health_url, []).append((replica_set, endpoint))
        urls = list(by_url)
        results = await asyncio.gather(*(self._probe(url) for url in urls))
        for url, error in zip(urls, results, strict=True):
            for replica_set, endpoint in by_url[url]:
                self._apply(replica_set, endpoint, error)

    async def _probe(self, url: str) -> str | None:
        """``None`` when the probe passed, else why it failed."""
        async with self._limit:
            try:
                async with asyncio.timeout(self.timeout_s):
                    response = await self._http.get(url, timeout=self.timeout_s)
            except TimeoutError:
                return f"no answer within {self.timeout_s:g}s"
            except httpx.HTTPError as exc:
                return f"{type(exc).__name__}: {exc}"
        if not response.is_success:
            return f"HTTP {response.status_code}"
        return None

    def _apply(self, replica_set: ReplicaSet, endpoint: Endpoint, error: str | None) -> None:
        healthy = endpoint.healthy
        if error is None:
            endpoint.health_successes += 1
            endpoint.health_failures = 0
            if endpoint.health_successes >= self.healthy_threshold:
                healthy = True
        else:
            endpoint.health_failures += 1
            endpoint.health_successes = 0
            if endpoint.health_failures >= self.unhealthy_threshold:
                healthy = False
        replica_set.set_healthy(endpoint, healthy, error=error)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            began = loop.time()
            try:
                await self.check_once()
            except Exception:  # a bug in one round must not stop health checking
                log.exception("health check round failed")
            await asyncio.sleep(max(0.0, self.interval_s - (loop.time() - began)))

    async def start(self) -> None:
        """Start the background rounds (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="stic-gateway-health")

    async def stop(self) -> None:
        """Stop the background rounds and close the HTTP client if this checker made it."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._owns_http:
            await self._http.aclose()
