"""Explicit list of modules that define ORM tables; importing it fills ``Base.metadata``.

Alembic's ``env.py`` and the test fixtures import this module, so a table that is not listed
here has no migration. Add new model modules to ``MODEL_MODULES``.
"""

from __future__ import annotations

import importlib

from services.kernel.db import Base

MODEL_MODULES: tuple[str, ...] = (
    "services.kernel.identity",
    "services.kernel.audit",
    "services.quotas.models",
    "scheduler.service.models",
    "services.assessment.models",
    "security.auditlog.models",
    "security.kms.models",
    "services.safety.models",
    "inference.gateway.limits.models",
    "inference.gateway.requestlog.models",
    "inference.batches.models",
    "inference.modelservice.models",
    "inference.gateway.splits.models",
)


def load_models() -> type[Base]:
    """Import every model module and return ``Base`` (whose metadata is then complete)."""
    for module in MODEL_MODULES:
        importlib.import_module(module)
    return Base
