"""The gateway's routing table: model names → services (with live replica sets) and routes.

Rebuilt from the database every ``refresh_s`` seconds (and on demand), so every gateway process
converges on the same view without talking to the others: the model-service directory
(:func:`inference.modelservice.directory.load_directory`) and the enabled routes. Replica sets
are kept across refreshes, so outstanding counts and ejections survive a refresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from inference.gateway.routing import EndpointSpec, HealthChecker, ReplicaSet
from inference.gateway.splits.models import InferenceRoute
from inference.gateway.splits.schemas import ChainSpec, SplitSpec
from inference.gateway.splits.service import enabled_routes
from inference.modelservice.directory import SecretOpener, ServiceTarget, load_directory
from services.kernel.db import Database

log = logging.getLogger("stic.gateway.table")


@dataclass
class ServiceEntry:
    """A model service and the live replica set the gateway balances over."""

    target: ServiceTarget
    replicas: ReplicaSet


@dataclass(frozen=True)
class RouteEntry:
    """An enabled route: a split over services, or a chain of them."""

    id: str
    tenant_id: str
    name: str
    split: SplitSpec | None
    chain: ChainSpec | None


def _route_entry(row: InferenceRoute) -> RouteEntry:
    return RouteEntry(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        split=SplitSpec.model_validate(row.spec) if row.kind == "split" else None,
        chain=ChainSpec.model_validate(row.spec) if row.kind == "chain" else None,
    )


class RoutingTable:
    """Name lookups for the serving path; :meth:`refresh` reloads from the database."""

    def __init__(
        self,
        *,
        database: Database,
        policy: str = "least-outstanding",
        refresh_s: float = 1.0,
        health: HealthChecker | None = None,
        secrets: SecretOpener | None = None,
    ) -> None:
        self._database = database
        self._policy = policy
        self._refresh_s = refresh_s
        self._health = health
        self._secrets = secrets
        self._services: dict[tuple[str, str], ServiceEntry] = {}
        self._by_id: dict[str, ServiceEntry] = {}
        self._routes: dict[tuple[str, str], RouteEntry] = {}
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.loaded = False

    def service(self, tenant_id: str, name: str) -> ServiceEntry | None:
        """The tenant's service called ``name``."""
        return self._services.get((tenant_id, name))

    def route(self, tenant_id: str, name: str) -> RouteEntry | None:
        """The tenant's enabled route called ``name`` (routes shadow services of the same name)."""
        return self._routes.get((tenant_id, name))

    def services_of(self, tenant_id: str) -> list[ServiceEntry]:
        """The tenant's services, by name."""
        return sorted(
            (e for (t, _), e in self._services.items() if t == tenant_id), key=lambda e: e.target.name
        )

    def routes_of(self, tenant_id: str) -> list[RouteEntry]:
        """The tenant's enabled routes, by name."""
        return sorted((r for (t, _), r in self._routes.items() if t == tenant_id), key=lambda r: r.name)

    def all_replica_sets(self) -> Sequence[ReplicaSet]:
        """Every live replica set (for metrics and health checks)."""
        return [e.replicas for e in self._services.values()]

    async def refresh(self) -> None:
        """Reload services, replicas and routes; keep the live state of replica sets that remain."""
        async with self._lock:
            async with self._database.sessionmaker() as session:
                targets = await load_directory(session, secrets=self._secrets)
                routes = await enabled_routes(session)
            services: dict[tuple[str, str], ServiceEntry] = {}
            by_id: dict[str, ServiceEntry] = {}
            for target in targets:
                entry = self._by_id.get(target.service_id)
                if entry is None:
                    entry = ServiceEntry(
                        target=target, replicas=ReplicaSet(self._policy, model=target.service_id)
                    )
                    if self._health is not None:
                        self._health.watch(entry.replicas)
                entry.target = target
                entry.replicas.sync(
                    [
                        EndpointSpec(
                            id=r.replica_id,
                            api_base=r.api_base,
                            health_url=r.health_url,
                            weight=r.weight,
                            api_key=r.api_key,
                            protocol=target.protocol,
                        )
                        for r in target.replicas
                    ]
                )
                services[(target.tenant_id, target.name)] = entry
                by_id[target.service_id] = entry
            for gone in set(self._by_id) - set(by_id):
                self._by_id[gone].replicas.sync([])
                if self._health is not None:
                    self._health.unwatch(self._by_id[gone].replicas)
            self._services, self._by_id = services, by_id
            self._routes = {(r.tenant_id, r.name): _route_entry(r) for r in routes}
            self.loaded = True

    async def start(self) -> None:
        """Load once, then keep refreshing in the background."""
        await self.refresh()
        self._task = asyncio.create_task(self._loop(), name="gateway-table-refresh")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_s)
            try:
                await self.refresh()
            except Exception:  # a database hiccup must not stop routing with the last good table
                log.exception("routing table refresh failed; keeping the previous table")

    async def stop(self) -> None:
        """Stop refreshing."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
