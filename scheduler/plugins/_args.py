"""Argument parsing shared by plugins and actions."""

from __future__ import annotations

from typing import Any

from scheduler.config import ConfigError


def check_keys(owner: str, args: dict[str, Any], allowed: set[str]) -> None:
    """Raise ConfigError for an argument the plugin does not know."""
    unknown = set(args) - allowed
    if unknown:
        raise ConfigError(f"{owner}.args: unknown argument {sorted(unknown)[0]!r}; known: {sorted(allowed)}")


def number(owner: str, args: dict[str, Any], key: str, default: float, *, minimum: float = 0.0) -> float:
    """A numeric argument >= ``minimum``."""
    value = args.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ConfigError(f"{owner}.args.{key}: must be a number >= {minimum}, got {value!r}")
    return float(value)
