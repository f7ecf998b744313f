"""The explicit list of SM2 backends, their order of preference, and selection.

Preference (measured on one core, see ``stic bench crypto``): ``tongsuopy`` first — the
fastest verifier, any plaintext length, native key agreement; then ``gmssl-pyx`` (fast
signing, half the verify rate, plaintexts up to 255 bytes, no key agreement); the
pure-Python ``gmssl`` last. ``STIC_CRYPTO_SM2_BACKEND`` names one backend to force.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from functools import cache

from security.crypto.errors import BackendUnavailableError
from security.crypto.sm2.backends.base import SM2Backend

ENV_VAR = "STIC_CRYPTO_SM2_BACKEND"

PREFERENCE: tuple[str, ...] = ("tongsuopy", "gmssl-pyx", "gmssl")
"""Registry names from most to least preferred."""

_FACTORIES: dict[str, tuple[str, str]] = {
    "tongsuopy": ("security.crypto.sm2.backends.tongsuo_backend", "TongsuoBackend"),
    "gmssl-pyx": ("security.crypto.sm2.backends.gmssl_pyx_backend", "GmsslPyxBackend"),
    "gmssl": ("security.crypto.sm2.backends.gmssl_backend", "GmsslBackend"),
}


@cache
def _load(name: str) -> SM2Backend | None:
    module_name, class_name = _FACTORIES[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    factory: Callable[[], SM2Backend] = getattr(module, class_name)
    return factory()


def backend_names() -> tuple[str, ...]:
    """Every registered backend name, installed or not, in preference order."""
    return PREFERENCE


def available_backends() -> list[SM2Backend]:
    """The installed backends, in preference order (``gmssl`` is always among them)."""
    return [b for b in (_load(n) for n in PREFERENCE) if b is not None]


def get_backend(name: str) -> SM2Backend:
    """Return the backend called ``name``; raise :class:`BackendUnavailableError` if unknown or missing."""
    if name not in _FACTORIES:
        raise BackendUnavailableError(f"unknown SM2 backend {name!r}; known: {', '.join(PREFERENCE)}")
    backend = _load(name)
    if backend is None:
        raise BackendUnavailableError(f"SM2 backend {name!r} is not installed")
    return backend


def default_backend(environ: Mapping[str, str] | None = None) -> SM2Backend:
    """The backend named by ``STIC_CRYPTO_SM2_BACKEND`` if set, else the most preferred installed one.

    ``environ`` defaults to :data:`os.environ`.
    """
    forced = (os.environ if environ is None else environ).get(ENV_VAR, "").strip()
    if forced:
        return get_backend(forced)
    return available_backends()[0]


def backend_for(
    preferred: SM2Backend, *, plaintext_length: int | None = None, key_exchange: bool = False
) -> SM2Backend:
    """Return ``preferred`` if it can do the operation, else the first installed backend that can.

    Used when the selected backend lacks a capability (gmssl-pyx: long plaintexts, key agreement).
    """

    def capable(backend: SM2Backend) -> bool:
        if key_exchange and not backend.supports_key_exchange:
            return False
        limit = backend.max_plaintext
        return plaintext_length is None or limit is None or plaintext_length <= limit

    if capable(preferred):
        return preferred
    for backend in available_backends():
        if capable(backend):
            return backend
    raise BackendUnavailableError("no installed SM2 backend supports this operation")
