"""The autoscaling loop: observe each autoscaled service, decide, and scale through the API's path.

Every ``tick_s`` it visits the running services whose policy is enabled (each no more often than
its ``interval_s``), collects samples from their ready replicas
(:class:`~inference.autoscaler.metrics.MetricsCollector`), asks
:func:`~inference.autoscaler.decision.desired_replicas`, and applies a change with
:func:`inference.modelservice.service.apply_scale` — the same path as manual scaling — recording an
``autoscaled`` event with the metrics behind it. The cooldown is measured from the last ``scaled``
or ``autoscaled`` event in the database, so it survives a restart; the stabilisation history is
kept in memory (after a restart the windows fill again, which only delays a change).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from inference.autoscaler.decision import Decision, desired_replicas
from inference.autoscaler.metrics import MetricsCollector, ReplicaProbe
from inference.autoscaler.policy import AutoscalingPolicy
from inference.modelservice.events import add_event, last_scale_time
from inference.modelservice.models import ModelReplica, ModelService
from inference.modelservice.options import ModelServiceOptions
from inference.modelservice.service import apply_scale
from scheduler.executors.base import TaskKey
from scheduler.service.models import TaskRow
from services.kernel.auth import Principal
from services.kernel.db import Database, utcnow
from services.kernel.errors import STICError

log = logging.getLogger("stic.autoscaler")


class Autoscaler:
    """Runs the loop described in the module docs; ``last_decisions`` is shown by the status API."""

    def __init__(
        self,
        *,
        database: Database,
        collector: MetricsCollector,
        options: ModelServiceOptions,
        system: Principal,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.database = database
        self.collector = collector
        self.options = options
        self.system = system
        self.on_change = on_change or (lambda: None)
        self.last_decisions: dict[str, tuple[datetime, Decision]] = {}
        self._history: dict[str, tuple[tuple[datetime, int], ...]] = {}
        self._failures: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        """Start the loop as a background task."""
        self._task = asyncio.create_task(self.run(), name="stic-autoscaler")

    async def stop(self) -> None:
        """Stop the loop."""
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run(self) -> None:
        """Tick until stopped; errors are logged and the loop goes on."""
        while not self._stopping.is_set():
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("autoscaler tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.options.autoscaler_tick_s)

    async def tick(self, now: datetime | None = None) -> list[tuple[str, Decision]]:
        """Evaluate every due service once; returns the decisions taken (changed or not)."""
        now = now or utcnow()
        async with self.database.sessionmaker() as session:
            services = list(
                (await session.execute(select(ModelService).where(ModelService.running.is_(True)))).scalars()
            )
        out = []
        for service in services:
            if not service.autoscaling or not service.autoscaling.get("enabled"):
                continue
            policy = AutoscalingPolicy.model_validate(service.autoscaling)
            previous = self.last_decisions.get(service.id)
            if previous is not None and (now - previous[0]).total_seconds() < policy.interval_s:
                continue
            decision = await self.evaluate(service.id, policy, now)
            if decision is not None:
                out.append((service.id, decision))
        return out

    async def _probes(self, service: ModelService) -> list[ReplicaProbe]:
        async with self.database.sessionmaker() as session:
            query = select(ModelReplica).where(
                ModelReplica.service_id == service.id, ModelReplica.state == "ready"
            )
            replicas = list((await session.execute(query)).scalars())
            job_ids = [r.job_id for r in replicas if r.job_id is not None]
            tasks = {
                t.job_id: TaskKey(t.id, t.attempt)
                for t in (await session.execute(select(TaskRow).where(TaskRow.job_id.in_(job_ids)))).scalars()
            }
        resources = service.resources
        return [
            ReplicaProbe(
                replica_id=r.id,
                metrics_url=r.metrics_url,
                task=tasks.get(r.job_id) if r.job_id else None,
                cpu_milli=int(resources.get("cpu_milli", 0)),
                memory_mib=int(resources.get("memory_mib", 0)),
            )
            for r in replicas
        ]

    async def evaluate(self, service_id: str, policy: AutoscalingPolicy, now: datetime) -> Decision | None:
        """Observe, decide and (when the count changes) scale one service."""
        async with self.database.sessionmaker() as session:
            service = await session.get(ModelService, service_id)
            if service is None:
                return None
            last = await last_scale_time(session, service.id)
        probes = await self._probes(service)
        samples = await asyncio.gather(*(self.collector.collect(p) for p in probes))
        decision = desired_replicas(
            service.desired_replicas,
            samples,
            policy,
            now,
            min_replicas=service.min_replicas,
            max_replicas=service.max_replicas,
            history=self._history.get(service_id, ()),
            last_scale_at=last.time if last is not None else None,
        )
        self._history[service_id] = decision.history
        self.last_decisions[service_id] = (now, decision)
        if decision.changed:
            await self._apply(service_id, decision)
        return decision

    async def _apply(self, service_id: str, decision: Decision) -> None:
        async with self.database.sessionmaker() as session:
            service = await session.get(ModelService, service_id)
            if service is None or service.desired_replicas != decision.current:
                return  # changed meanwhile (by hand): decide again next time
            metrics = {
                name: {"average": v.average, "target": v.target, "replicas": v.replicas_reporting}
                for name, v in decision.metrics.items()
            }
            try:
                await apply_scale(
                    session,
                    service,
                    decision.desired,
                    kind="autoscaled",
                    message=decision.reason,
                    data={
                        "source": "autoscaler",
                        "recommendation": decision.recommendation,
                        "metrics": metrics,
                    },
                    system=self.system,
                    options=self.options,
                )
                await session.commit()
            except STICError as exc:
                await session.rollback()
                log.warning("autoscaling %s failed: %s", service_id, exc.message)
                await self._record_failure(service_id, decision, exc)
                return
            except (StaleDataError, OperationalError, IntegrityError):
                await session.rollback()
                return
        self.on_change()

    async def _record_failure(self, service_id: str, decision: Decision, exc: STICError) -> None:
        """Keep a refused scale (quota, placement) visible in the service's events."""
        async with self.database.sessionmaker() as session:
            service = await session.get(ModelService, service_id)
            if service is None:
                return
            message = f"{decision.current} → {decision.desired} refused: {exc.message}"
            if self._failures.get(service_id) == message:
                return  # already recorded; not once per interval
            self._failures[service_id] = message
            add_event(session, service, "autoscale-failed", message, {"code": exc.code})
            await session.commit()
