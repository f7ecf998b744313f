"""Shared fixtures for the crypto tests: the installed SM2 backends."""

from __future__ import annotations

import pytest

from security.crypto.sm2.backends.base import SM2Backend
from security.crypto.sm2.backends.registry import available_backends

BACKENDS = available_backends()
BACKEND_IDS = [b.name for b in BACKENDS]


@pytest.fixture(params=BACKENDS, ids=BACKEND_IDS)
def backend(request: pytest.FixtureRequest) -> SM2Backend:
    """Each installed SM2 backend in turn."""
    return request.param
