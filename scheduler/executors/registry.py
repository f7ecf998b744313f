"""The one list of executors (``STIC_SCHEDULER_EXECUTOR`` picks one by name).

Each entry is ``module:Class``; the class takes the executor's state folder as its first argument
and implements :class:`scheduler.executors.base.Executor`. Entries are imported lazily, so an
optional back end (Ray) costs nothing unless chosen.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from scheduler.executors.base import Executor

EXECUTORS: dict[str, str] = {
    "local": "scheduler.executors.local:LocalExecutor",
    "ray": "scheduler.executors.ray:RayExecutor",
}


def create_executor(name: str, root: Path, **kwargs: Any) -> Executor:
    """Build the executor registered as ``name``; KeyError names the known ones."""
    try:
        target = EXECUTORS[name]
    except KeyError:
        raise KeyError(f"unknown executor {name!r}; known: {sorted(EXECUTORS)}") from None
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    executor: Executor = cls(root, **kwargs)
    return executor
