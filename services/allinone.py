"""The all-in-one composition: every service module in one process (``stic up``).

``SERVICE_MODULES`` is the explicit registry of services; ``stic serve <name>`` picks one of
them, ``stic up`` mounts them all through the same ``create_service_app``.
"""

from __future__ import annotations

import importlib

from fastapi import FastAPI

from services.kernel.app import ServiceModule, create_service_app
from services.kernel.settings import Settings

# name → module path exposing ``module: ServiceModule``
SERVICE_MODULES: dict[str, str] = {
    "iam": "services.iam.app",
    "quotas": "services.quotas.app",
    "scheduler": "scheduler.service.app",
    "assessment": "services.assessment.app",
    "audit": "services.audit.app",
    "kms": "services.kms.app",
    "safety": "services.safety.app",
    "models": "inference.modelservice.app",
    "batches": "inference.batches.app",
    "gateway": "inference.gateway.app",
}


def load_module(name: str) -> ServiceModule:
    """The :class:`ServiceModule` registered as ``name``; KeyError names the known ones."""
    try:
        path = SERVICE_MODULES[name]
    except KeyError:
        raise KeyError(f"unknown service '{name}'; known: {', '.join(sorted(SERVICE_MODULES))}") from None
    module: ServiceModule = importlib.import_module(path).module
    return module


def create_app(settings: Settings) -> FastAPI:
    """Every registered service in one app."""
    return create_service_app(modules=[load_module(n) for n in SERVICE_MODULES], settings=settings)
