"""The one list of scheduler plugins and actions (names used in config files)."""

from __future__ import annotations

from scheduler.actions.allocate import AllocateAction
from scheduler.actions.backfill import BackfillAction
from scheduler.actions.enqueue import EnqueueAction
from scheduler.actions.preempt import PreemptAction
from scheduler.actions.reclaim import ReclaimAction
from scheduler.framework.plugin import ActionFactory, PluginFactory
from scheduler.plugins.binpack import BinpackPlugin
from scheduler.plugins.capacity import CapacityPlugin
from scheduler.plugins.drf import DrfPlugin
from scheduler.plugins.firstfit import FirstFitPlugin
from scheduler.plugins.gang import GangPlugin
from scheduler.plugins.gpu_topology import GpuTopologyPlugin
from scheduler.plugins.health import HealthPlugin
from scheduler.plugins.network_topology import NetworkTopologyPlugin
from scheduler.plugins.predicates import PredicatesPlugin
from scheduler.plugins.priority import PriorityPlugin
from scheduler.plugins.sharing import SharingPlugin
from scheduler.plugins.spread import SpreadPlugin
from scheduler.plugins.strategy import PlacementStrategyPlugin

PLUGINS: dict[str, PluginFactory] = {
    "gang": GangPlugin,
    "priority": PriorityPlugin,
    "capacity": CapacityPlugin,
    "drf": DrfPlugin,
    "predicates": PredicatesPlugin,
    "binpack": BinpackPlugin,
    "spread": SpreadPlugin,
    "firstfit": FirstFitPlugin,
    "gpu-topology": GpuTopologyPlugin,
    "network-topology": NetworkTopologyPlugin,
    "sharing": SharingPlugin,
    "health": HealthPlugin,
    "placement-strategy": PlacementStrategyPlugin,
}

ACTIONS: dict[str, ActionFactory] = {
    "enqueue": EnqueueAction,
    "allocate": AllocateAction,
    "backfill": BackfillAction,
    "preempt": PreemptAction,
    "reclaim": ReclaimAction,
}
