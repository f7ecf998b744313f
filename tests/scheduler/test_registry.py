"""Every registered plugin and action honours its protocol; configs load or fail clearly."""

from __future__ import annotations

import pytest

from scheduler import JobRecord, Scheduler, Snapshot
from scheduler.config import ConfigError, bundled_configs, load_config, parse_config
from scheduler.framework.plugin import Action, Plugin
from scheduler.model.inventories import demo_inventory
from scheduler.model.job import PlacementStrategy
from scheduler.model.queue import QueueTree
from scheduler.registry import ACTIONS, PLUGINS
from scheduler.testing import job


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_plugin_protocol(name: str) -> None:
    plugin = PLUGINS[name]({})
    assert isinstance(plugin, Plugin) and plugin.name == name
    # a waiting job that asks for everything plugins register conditionally (placement, avoided nodes)
    waiting = JobRecord(
        job("j").with_(placement=PlacementStrategy.SPREAD).group().obj(), avoid_nodes=frozenset({"n1"})
    )
    snapshot = Snapshot(demo_inventory(), QueueTree.single(), [waiting])
    session = Scheduler(load_config("default")).open_session(snapshot)
    registered_before = sum(len(v) for v in vars(session).values() if isinstance(v, list))
    plugin.on_session_open(session)
    assert sum(len(v) for v in vars(session).values() if isinstance(v, list)) > registered_before
    plugin.on_session_close(session)
    with pytest.raises(ConfigError, match=name):
        PLUGINS[name]({"no_such_argument": 1})


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_action_protocol(name: str) -> None:
    action = ACTIONS[name]({})
    assert isinstance(action, Action) and action.name == name
    session = Scheduler(load_config("default")).open_session(Snapshot(demo_inventory(), QueueTree.single()))
    action.execute(session)  # an empty cluster produces no decisions
    assert session.result.placements == [] and session.result.evictions == []


@pytest.mark.parametrize("name", ["default", "best-fit", "fifo-first-fit"])
def test_bundled_configs_load(name: str) -> None:
    assert name in bundled_configs()
    assert Scheduler(load_config(name)).config.actions[0] == "enqueue"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"actions": ["allocate"], "tiers": [{"plugins": [{"name": "nope"}]}]}, "unknown plugin 'nope'"),
        ({"actions": ["teleport"], "tiers": [{"plugins": []}]}, "unknown action 'teleport'"),
        ({"actions": ["allocate"], "tiers": []}, "tiers"),
        ({"actions": ["allocate"], "tiers": [{"plugins": [{"name": "gang"}, {"name": "gang"}]}]}, "twice"),
        ({"actions": ["allocate"], "tiers": [{"plugins": []}], "sampling": {"per_bucket": 0}}, "per_bucket"),
        ({"actions": ["allocate"], "tiers": [{"plugins": []}], "colour": 1}, "colour"),
    ],
)
def test_config_errors_name_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(data)


def test_bad_plugin_argument_is_rejected_when_building() -> None:
    cfg = parse_config(
        {"actions": ["allocate"], "tiers": [{"plugins": [{"name": "binpack", "args": {"weight": -1}}]}]}
    )
    with pytest.raises(ConfigError, match=r"binpack\.args\.weight"):
        Scheduler(cfg)


def test_unknown_config_name() -> None:
    with pytest.raises(ConfigError, match="no such scheduler config"):
        load_config("does-not-exist")
