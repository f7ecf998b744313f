"""The model-service controller: one loop that converges replicas and watches their health.

Every tick (``options.tick_s``, or at once after :meth:`ModelServiceController.wake`):

1. read every service and replica, with the replica's scheduler job and task;
2. probe the health URL of each replica whose task runs (outside any transaction): ``ready`` on a
   2xx answer; a ready replica becomes ``unhealthy`` after ``unhealthy_after`` failed probes, or at
   once when its task is no longer running; a new task attempt (the scheduler restarted a crashed
   replica in place) starts again from ``starting``; a job that ended marks the replica ``failed``;
3. per service, in its own transaction: write the observations, derive the service state, and run
   :func:`~inference.modelservice.replicas.ensure_replicas` (submit missing replica jobs, delete
   surplus ones).

Everything it knows is in the database, so the loop is restart-safe and idempotent; a step that
loses an optimistic-concurrency race with the scheduler is rolled back and redone next tick.
``openai`` services have one replica per upstream URL, discovered and probed the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from inference.engines.base import ReplicaSpec
from inference.engines.errors import EngineError
from inference.engines.openai_compat import OpenAICompatEngine
from inference.modelservice.directory import SecretOpener
from inference.modelservice.events import add_event
from inference.modelservice.models import ModelReplica, ModelService
from inference.modelservice.options import ModelServiceOptions
from inference.modelservice.replicas import ensure_replicas, replicas_of, target_replicas
from scheduler.model import JobState
from scheduler.model.state import TERMINAL
from scheduler.service.models import JobRow, TaskRow
from services.kernel.auth import Principal
from services.kernel.db import Database, utcnow
from services.kernel.errors import STICError

log = logging.getLogger("stic.modelservice")


@dataclass(frozen=True, slots=True)
class Observation:
    """What the controller saw of one replica in one tick."""

    replica_id: str
    job_state: str | None = None
    job_reasons: tuple[str, ...] = ()
    task_state: str | None = None
    attempt: int = 0
    node: str | None = None
    simulated: bool = False
    started_at: datetime | None = None
    failure: str = ""
    healthy: bool | None = None  # None: not probed (the task does not run)
    probe_error: str = ""
    discovered: tuple[str, str | None] | None = None  # openai: (health_url, metrics_url)


def service_state(service: ModelService, replicas: list[ModelReplica]) -> str:
    """The service state from its intent and its replicas' states (pure)."""
    target = target_replicas(service)
    if not service.running:
        return "stopping" if replicas else "stopped"
    if target == 0:
        return "stopped"
    ready = sum(1 for r in replicas if r.state == "ready")
    if ready >= target:
        return "running"
    if replicas and all(r.state == "failed" for r in replicas):
        return "failed"
    return "degraded" if service.state in ("running", "degraded") else "starting"


def next_replica_state(replica: ModelReplica, seen: Observation, unhealthy_after: int) -> str:
    """The replica state after ``seen`` (pure; ``replica`` holds the previous state and counters)."""
    if seen.job_state is not None and JobState(seen.job_state) in TERMINAL:
        return "failed"
    if seen.healthy is True:
        return "ready"
    if seen.healthy is False:
        if replica.state in ("ready", "unhealthy"):
            return "unhealthy" if replica.health_failures + 1 >= unhealthy_after else replica.state
        return "starting"
    if replica.state in ("ready", "unhealthy"):
        return "unhealthy"  # its task is not running: crashed or being restarted
    if seen.task_state in ("running", "backoff", "placed") or replica.attempt > 0:
        return "starting"
    return "pending"


class ModelServiceController:
    """Runs the loop described in the module docs; ``scheduler_wake`` nudges the scheduler."""

    def __init__(
        self,
        *,
        database: Database,
        options: ModelServiceOptions,
        system: Principal,
        http: httpx.AsyncClient,
        secrets: SecretOpener | None = None,
        scheduler_wake: Callable[[], None] | None = None,
    ) -> None:
        self.database = database
        self.options = options
        self.system = system
        self.http = http
        self.secrets = secrets
        self.scheduler_wake = scheduler_wake or (lambda: None)
        self.ticks = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def wake(self) -> None:
        """Run a tick as soon as possible."""
        self._wake.set()

    def start(self) -> None:
        """Start the loop as a background task."""
        self._task = asyncio.create_task(self.run(), name="stic-modelservice")

    async def stop(self, *, grace_s: float = 10.0) -> None:
        """Stop after the current tick (cancelled after ``grace_s``); replicas keep running."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=grace_s)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task

    async def run(self) -> None:
        """Tick until stopped; errors are logged and the loop goes on."""
        while not self._stopping:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("model-service tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.options.tick_s)
            self._wake.clear()

    async def tick(self) -> None:
        """One pass: observe, probe, write and converge every service."""
        async with self.database.sessionmaker() as session:
            service_ids = list((await session.execute(select(ModelService.id))).scalars())
            observations = await self._observe(session)
        probed = await asyncio.gather(*(self._probe(o) for o in observations))
        seen = {o.replica_id: o for o in probed}
        changed = False
        for service_id in service_ids:
            changed |= await self._converge(service_id, seen)
        if changed:
            self.scheduler_wake()
        self.ticks += 1

    async def _observe(self, session: AsyncSession) -> list[tuple[Observation, ModelReplica, ModelService]]:
        rows = list((await session.execute(select(ModelReplica))).scalars())
        services = {s.id: s for s in (await session.execute(select(ModelService))).scalars()}
        job_ids = [r.job_id for r in rows if r.job_id is not None]
        jobs = {
            j.id: j for j in (await session.execute(select(JobRow).where(JobRow.id.in_(job_ids)))).scalars()
        }
        tasks = {
            t.job_id: t
            for t in (await session.execute(select(TaskRow).where(TaskRow.job_id.in_(job_ids)))).scalars()
        }
        out = []
        for replica in rows:
            service = services.get(replica.service_id)
            if service is None:
                continue
            if replica.job_id is None:  # openai upstream
                out.append((Observation(replica.id, task_state="running"), replica, service))
                continue
            job, task = jobs.get(replica.job_id), tasks.get(replica.job_id)
            if job is None or task is None:
                continue
            seen = Observation(
                replica.id,
                job_state=job.state,
                job_reasons=tuple(str(r) for r in job.reasons),
                task_state=task.state,
                attempt=task.attempt,
                node=task.node,
                simulated=task.simulated,
                started_at=task.started_at,
                failure=task.failure,
            )
            out.append((seen, replica, service))
        return out

    async def _probe(self, item: tuple[Observation, ModelReplica, ModelService]) -> Observation:
        seen, replica, service = item
        if seen.task_state != "running" or (seen.job_state is not None and seen.job_state != "running"):
            return seen
        api_key = None
        if service.engine == "openai":
            api_key = await self._upstream_key(service)
            if not replica.health_url:
                return await self._discover(seen, replica, service, api_key)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        try:
            response = await self.http.get(
                replica.health_url, headers=headers, timeout=self.options.health_timeout_s
            )
        except httpx.HTTPError as exc:
            return replace(seen, healthy=False, probe_error=f"{type(exc).__name__}: {exc}"[:300])
        if response.is_success:
            return replace(seen, healthy=True)
        return replace(seen, healthy=False, probe_error=f"health answered {response.status_code}")

    async def _discover(
        self, seen: Observation, replica: ModelReplica, service: ModelService, api_key: str | None
    ) -> Observation:
        engine = OpenAICompatEngine(http=self.http, timeout_s=self.options.health_timeout_s)
        spec = ReplicaSpec(
            model=service.upstream_model or "",
            served_model_name=service.served_model_name,
            url=replica.api_base,
            api_key=api_key,
        )
        try:
            found = await engine.start(spec)
        except EngineError as exc:
            return replace(seen, healthy=False, probe_error=str(exc)[:300])
        return replace(seen, healthy=True, discovered=(found.health_url, found.metrics_url))

    async def _upstream_key(self, service: ModelService) -> str | None:
        if service.upstream_api_key is None or self.secrets is None:
            return None
        async with self.database.sessionmaker() as session:
            return await self.secrets.open(session, service)

    async def _converge(self, service_id: str, seen: dict[str, Observation]) -> bool:
        async with self.database.sessionmaker() as session:
            try:
                service = await session.get(ModelService, service_id)
                if service is None:
                    return False
                replicas = await replicas_of(session, service.id)
                for replica in replicas:
                    if replica.id in seen:
                        self._apply(session, service, replica, seen[replica.id])
                changed = False
                try:
                    changed = await ensure_replicas(
                        session, service, principal=self.system, options=self.options
                    )
                except STICError as exc:
                    if service.last_error != exc.message[:1000]:
                        service.last_error = exc.message[:1000]
                        add_event(session, service, "error", exc.message, {"code": exc.code})
                if changed:
                    replicas = await replicas_of(session, service.id)
                state = service_state(service, replicas)
                if state != service.state:
                    add_event(session, service, "state", f"{service.state} → {state}")
                    service.state = state
                await session.commit()
                return changed
            except (StaleDataError, OperationalError, IntegrityError) as exc:
                await session.rollback()
                log.info("model-service step retried", extra={"reason": type(exc).__name__})
                return False

    def _apply(
        self, session: AsyncSession, service: ModelService, replica: ModelReplica, seen: Observation
    ) -> None:
        now = utcnow()
        if seen.job_state is not None and seen.attempt != replica.attempt:
            add_event(
                session, service, "replica-restarted", f"replica {replica.ordinal} attempt {seen.attempt}"
            )
            replica.attempt, replica.ready_at, replica.health_failures = seen.attempt, None, 0
            if replica.state in ("ready", "unhealthy"):
                replica.state = "starting"
        replica.node = seen.node if replica.job_id is not None else None
        replica.simulated = seen.simulated
        if seen.started_at is not None:
            replica.started_at = seen.started_at
        if seen.discovered is not None:
            replica.health_url, replica.metrics_url = seen.discovered
        state = next_replica_state(replica, seen, self.options.unhealthy_after)
        if seen.healthy is not None:
            replica.last_check_at = now
            replica.health_failures = 0 if seen.healthy else replica.health_failures + 1
        if state == "failed":
            replica.last_error = (seen.failure or "; ".join(seen.job_reasons) or f"job {seen.job_state}")[
                :1000
            ]
        elif state == "pending" and seen.job_reasons:
            replica.last_error = "; ".join(seen.job_reasons)[:1000]
        elif seen.failure and state != "ready":
            replica.last_error = seen.failure[:1000]  # why the scheduler is restarting it
        elif seen.probe_error:
            replica.last_error = seen.probe_error
        if state == replica.state:
            return
        if state == "ready":
            replica.ready_at, replica.last_error = now, ""
        add_event(
            session, service, f"replica-{state}", f"replica {replica.ordinal}: {replica.state} → {state}"
        )
        replica.state = state
