"""The IAM service: tenancy, principals, API keys and role bindings."""

from __future__ import annotations

from fastapi import FastAPI

from services.iam.router import router
from services.kernel.app import ServiceModule, create_service_app
from services.kernel.settings import Settings

module = ServiceModule(
    name="iam",
    title="Identity and tenancy",
    description="tenants, departments, projects, users, service accounts, API keys, roles",
    routers=[router],
)


def create_app(settings: Settings) -> FastAPI:
    """The IAM service alone."""
    return create_service_app(modules=[module], settings=settings)
