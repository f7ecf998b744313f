"""The quota service: multi-level limits and the reservation ledger."""

from __future__ import annotations

from fastapi import FastAPI

from services.kernel.app import ServiceModule, create_service_app
from services.kernel.settings import Settings
from services.quotas.router import router

module = ServiceModule(
    name="quotas",
    title="Resource quotas",
    description="multi-level quotas (tenant → department → project) and reservations",
    routers=[router],
)


def create_app(settings: Settings) -> FastAPI:
    """The quota service alone."""
    return create_service_app(modules=[module], settings=settings)
