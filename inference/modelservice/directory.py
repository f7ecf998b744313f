"""The directory the gateway routes from: every live model service and its ready replicas.

Contract (shared with the gateway): :func:`load_directory` returns one :class:`ServiceTarget` per
service that is not deleted (deletion removes the row), across all tenants, each with the
replicas the controller has seen healthy (state ``ready``). It runs two indexed queries and is
cheap enough to call about once a second.

External ``openai`` upstreams may hold an API key sealed by the KMS. The key is only opened when
the caller passes ``secrets`` (a :class:`SecretOpener`, e.g. :class:`KmsSecretOpener` over
``app.state.kms``); without it ``ReplicaTarget.api_key`` is ``None`` for such services.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from inference.modelservice.models import ModelReplica, ModelService


@dataclass(frozen=True, slots=True)
class ReplicaTarget:
    """One ready replica: where the OpenAI API (``api_base`` ends with ``/v1``) and health live."""

    replica_id: str
    api_base: str
    health_url: str
    metrics_url: str | None
    api_key: str | None
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class ServiceTarget:
    """A model service as the gateway sees it; ``name`` is what clients send as ``model``.

    ``protocol`` is how the gateway calls its replicas on the request path: ``http1`` or ``h2c``.
    """

    service_id: str
    tenant_id: str
    project_id: str
    name: str
    version: str
    engine: str
    served_model_name: str
    state: str
    simulated: bool
    replicas: tuple[ReplicaTarget, ...]
    protocol: str = "http1"


class SecretOpener(Protocol):
    """Opens a service's sealed upstream API key (``None`` when it cannot)."""

    async def open(self, session: AsyncSession, service: ModelService) -> str | None: ...


async def load_directory(
    session: AsyncSession, *, secrets: SecretOpener | None = None
) -> list[ServiceTarget]:
    """Every service not deleted (all tenants), ordered by tenant and name, with its ready replicas."""
    services = list(
        (
            await session.execute(select(ModelService).order_by(ModelService.tenant_id, ModelService.name))
        ).scalars()
    )
    if not services:
        return []
    ready: dict[str, list[ModelReplica]] = defaultdict(list)
    query = (
        select(ModelReplica)
        .where(ModelReplica.state == "ready", ModelReplica.service_id.in_([s.id for s in services]))
        .order_by(ModelReplica.service_id, ModelReplica.ordinal)
    )
    for replica in (await session.execute(query)).scalars():
        ready[replica.service_id].append(replica)
    out = []
    for service in services:
        api_key = None
        if service.upstream_api_key is not None and secrets is not None:
            api_key = await secrets.open(session, service)
        replicas = tuple(
            ReplicaTarget(
                replica_id=r.id,
                api_base=r.api_base,
                health_url=r.health_url,
                metrics_url=r.metrics_url,
                api_key=api_key,
            )
            for r in ready[service.id]
        )
        out.append(
            ServiceTarget(
                service_id=service.id,
                tenant_id=service.tenant_id,
                project_id=service.project_id,
                name=service.name,
                version=service.version,
                engine=service.engine,
                served_model_name=service.served_model_name,
                state=service.state,
                simulated=any(r.simulated for r in ready[service.id]),
                replicas=replicas,
                protocol=service.upstream_protocol,
            )
        )
    return out
