"""Scheduler configuration files: action order, plugin tiers with arguments, node sampling.

Format (YAML)::

    actions: [enqueue, allocate, preempt, reclaim, backfill]
    sampling: {per_bucket: 4, max_feasible: 64, max_scan_per_bucket: 256}
    tiers:
      - plugins:
          - name: priority
          - name: binpack
            args: {weight: 1}

Bundled files live in ``scheduler/config/``: ``default.yaml`` (our policy),
``best-fit.yaml`` and ``fifo-first-fit.yaml`` (baselines for the simulator).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CONFIG_DIR = Path(__file__).parent / "config"


class ConfigError(ValueError):
    """A configuration file is invalid; the message names the offending key."""


@dataclass(frozen=True)
class PluginConfig:
    """One plugin in a tier with its arguments."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SamplingConfig:
    """Bounds on candidate search (see :mod:`scheduler.framework.session`)."""

    per_bucket: int = 4
    max_feasible: int = 64
    max_scan_per_bucket: int = 256


@dataclass(frozen=True)
class SchedulerConfig:
    """A validated scheduler configuration."""

    name: str
    actions: tuple[str, ...]
    tiers: tuple[tuple[PluginConfig, ...], ...]
    sampling: SamplingConfig = SamplingConfig()
    action_args: dict[str, dict[str, Any]] = field(default_factory=dict)

    def plugin_names(self) -> list[str]:
        """Plugins in tier order."""
        return [p.name for tier in self.tiers for p in tier]


def _positive_int(data: dict[str, Any], key: str, default: int) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"sampling.{key}: must be a positive integer, got {value!r}")
    return value


def parse_config(data: Any, *, name: str = "inline") -> SchedulerConfig:
    """Validate a parsed YAML mapping; raises :class:`ConfigError` naming the bad key.

    Plugin and action names are checked against :mod:`scheduler.registry`.
    """
    from scheduler.registry import ACTIONS, PLUGINS

    if not isinstance(data, dict):
        raise ConfigError(f"{name}: top level must be a mapping")
    unknown = set(data) - {"actions", "tiers", "sampling", "action_args"}
    if unknown:
        raise ConfigError(f"{name}: unknown key {sorted(unknown)[0]!r}")
    actions = data.get("actions")
    if not isinstance(actions, list) or not actions:
        raise ConfigError(f"{name}: actions: must be a non-empty list")
    for a in actions:
        if a not in ACTIONS:
            raise ConfigError(f"{name}: actions: unknown action {a!r}; known: {sorted(ACTIONS)}")
    tiers_raw = data.get("tiers")
    if not isinstance(tiers_raw, list) or not tiers_raw:
        raise ConfigError(f"{name}: tiers: must be a non-empty list")
    tiers: list[tuple[PluginConfig, ...]] = []
    seen: set[str] = set()
    for i, tier in enumerate(tiers_raw):
        plugins = tier.get("plugins") if isinstance(tier, dict) else None
        if not isinstance(plugins, list):
            raise ConfigError(f"{name}: tiers[{i}].plugins: must be a list")
        entries = []
        for j, p in enumerate(plugins):
            where = f"{name}: tiers[{i}].plugins[{j}]"
            if not isinstance(p, dict) or not isinstance(p.get("name"), str):
                raise ConfigError(f"{where}: needs a name")
            if p["name"] not in PLUGINS:
                raise ConfigError(f"{where}.name: unknown plugin {p['name']!r}; known: {sorted(PLUGINS)}")
            if p["name"] in seen:
                raise ConfigError(f"{where}.name: plugin {p['name']!r} listed twice")
            seen.add(p["name"])
            args = p.get("args", {}) or {}
            if not isinstance(args, dict):
                raise ConfigError(f"{where}.args: must be a mapping")
            entries.append(PluginConfig(p["name"], dict(args)))
        tiers.append(tuple(entries))
    sampling_raw = data.get("sampling", {}) or {}
    if not isinstance(sampling_raw, dict):
        raise ConfigError(f"{name}: sampling: must be a mapping")
    sampling = SamplingConfig(
        _positive_int(sampling_raw, "per_bucket", 4),
        _positive_int(sampling_raw, "max_feasible", 64),
        _positive_int(sampling_raw, "max_scan_per_bucket", 256),
    )
    action_args = data.get("action_args", {}) or {}
    if not isinstance(action_args, dict) or any(k not in actions for k in action_args):
        raise ConfigError(f"{name}: action_args: keys must be configured actions")
    return SchedulerConfig(name, tuple(actions), tuple(tiers), sampling, dict(action_args))


def load_config(path: str | Path) -> SchedulerConfig:
    """Load a YAML file, or a bundled config by name (``default``, ``best-fit``, ``fifo-first-fit``)."""
    p = Path(path)
    if not p.suffix and not p.exists():
        p = CONFIG_DIR / f"{path}.yaml"
    if not p.is_file():
        raise ConfigError(f"{path}: no such scheduler config (bundled: {bundled_configs()})")
    return parse_config(yaml.safe_load(p.read_text()), name=p.stem)


def bundled_configs() -> list[str]:
    """Names of the configs shipped in ``scheduler/config``."""
    return sorted(f.stem for f in CONFIG_DIR.glob("*.yaml"))
