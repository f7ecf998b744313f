"""The scheduler: builds plugins and actions from a config and runs cycles on snapshots."""

from __future__ import annotations

from scheduler.config import SchedulerConfig
from scheduler.framework.plugin import Action, Plugin
from scheduler.framework.result import CycleResult
from scheduler.framework.session import Session
from scheduler.framework.snapshot import Snapshot


class Scheduler:
    """Runs ``config.actions`` in order over a session whose callbacks come from ``config.tiers``.

    Plugin and action instances are built once and reused for every cycle.
    """

    def __init__(self, config: SchedulerConfig) -> None:
        from scheduler.registry import ACTIONS, PLUGINS

        self.config = config
        self.plugins: list[tuple[int, Plugin]] = []
        for tier_index, tier in enumerate(config.tiers):
            for entry in tier:
                self.plugins.append((tier_index, PLUGINS[entry.name](dict(entry.args))))
        self.actions: list[Action] = [ACTIONS[a](dict(config.action_args.get(a, {}))) for a in config.actions]

    def open_session(self, snapshot: Snapshot) -> Session:
        """A session with every plugin's callbacks registered (used by :meth:`run_cycle` and tests)."""
        session = Session(snapshot, self.config)
        for tier_index, plugin in self.plugins:
            session.tier_of[plugin.name] = tier_index
            plugin.on_session_open(session)
        return session

    def run_cycle(self, snapshot: Snapshot) -> CycleResult:
        """Run one cycle. ``snapshot`` is updated to reflect the decisions (see :class:`Snapshot`)."""
        session = self.open_session(snapshot)
        for action in self.actions:
            action.execute(session)
        for _, plugin in self.plugins:
            plugin.on_session_close(session)
        return session.result
