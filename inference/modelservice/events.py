"""Service events: what happened to a model service, in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from inference.modelservice.models import ModelService, ModelServiceEvent
from services.kernel.db import utcnow


def add_event(
    session: AsyncSession, service: ModelService, kind: str, message: str, data: dict[str, Any] | None = None
) -> ModelServiceEvent:
    """Record ``kind`` (created, started, stopped, scaled, autoscaled, replica-ready, ...) for ``service``."""
    event = ModelServiceEvent(
        tenant_id=service.tenant_id,
        service_id=service.id,
        time=utcnow(),
        kind=kind,
        message=message[:1000],
        data=data or {},
    )
    session.add(event)
    return event


async def last_scale_time(session: AsyncSession, service_id: str) -> ModelServiceEvent | None:
    """The service's latest ``scaled`` or ``autoscaled`` event (the autoscaler's cooldown reference)."""
    query = (
        select(ModelServiceEvent)
        .where(
            ModelServiceEvent.service_id == service_id,
            ModelServiceEvent.kind.in_(("scaled", "autoscaled")),
        )
        .order_by(ModelServiceEvent.time.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()
