"""The plugin and action protocols."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from scheduler.framework.session import Session


@runtime_checkable
class Plugin(Protocol):
    """A plugin registers callbacks on each cycle's session (Volcano ``OnSessionOpen``).

    Instances live as long as their :class:`~scheduler.framework.scheduler.Scheduler`; per-cycle
    state must be reset in :meth:`on_session_open`.
    """

    name: str

    def on_session_open(self, session: Session) -> None:
        """Register callbacks with ``session.add_*`` and prepare per-cycle state."""

    def on_session_close(self, session: Session) -> None:
        """Drop per-cycle state."""


@runtime_checkable
class Action(Protocol):
    """One step of a cycle (enqueue, allocate, backfill, preempt, reclaim)."""

    name: str

    def execute(self, session: Session) -> None:
        """Make decisions through statements on ``session``."""


class PluginFactory(Protocol):
    """Builds a plugin from its configured arguments; raises ConfigError on bad arguments."""

    def __call__(self, args: dict[str, Any]) -> Plugin: ...


class ActionFactory(Protocol):
    """Builds an action from its configured arguments."""

    def __call__(self, args: dict[str, Any]) -> Action: ...
