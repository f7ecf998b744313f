"""Hooks that run before a tenant is deleted, so services can stop what the tenant still runs.

Deleting a tenant cascades through every tenant-owned row, but rows are not processes: a running
job's tasks would keep running with nothing left that knows them. A service that runs work for
tenants (the scheduler) registers a hook on the app's :class:`TenantDeletionHooks`; IAM runs the
hooks after it authorised the deletion and before it deletes the row. A hook that raises (an
:class:`services.kernel.errors.AppError` such as ``Conflict``) aborts the deletion.

The registry lives on ``app.state`` (one per app, never global), so it binds only the services
composed in the same process as IAM.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

TenantHook = Callable[[str], Awaitable[None]]
"""``await hook(tenant_id)``: stop the tenant's work; raise to refuse the deletion."""


class TenantDeletionHooks:
    """Named hooks run in registration order before a tenant is deleted."""

    def __init__(self) -> None:
        self._hooks: dict[str, TenantHook] = {}

    def register(self, name: str, hook: TenantHook) -> None:
        """Add (or replace) the hook called ``name``."""
        self._hooks[name] = hook

    def unregister(self, name: str) -> None:
        """Remove the hook called ``name`` (no-op if absent)."""
        self._hooks.pop(name, None)

    @property
    def names(self) -> tuple[str, ...]:
        """Registered hook names, in the order they run."""
        return tuple(self._hooks)

    async def run(self, tenant_id: str) -> None:
        """Await every hook for ``tenant_id``; the first exception propagates."""
        for hook in list(self._hooks.values()):
            await hook(tenant_id)


def tenant_deletion_hooks(app: Any) -> TenantDeletionHooks:
    """The app's registry (created on first use, kept on ``app.state``)."""
    hooks = getattr(app.state, "tenant_deletion_hooks", None)
    if not isinstance(hooks, TenantDeletionHooks):
        hooks = TenantDeletionHooks()
        app.state.tenant_deletion_hooks = hooks
    return hooks
