"""What a serving result was measured on: host CPU, cores, load, and the engine behind the URL."""

from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Mapping
from typing import Any


def cpu_model() -> str:
    """The CPU model name from ``/proc/cpuinfo`` (or the platform's guess)."""
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def host_environment() -> dict[str, Any]:
    """Python, platform, CPU model, cores usable by this process and the 1-minute load average."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def engine_from_models(payload: Any, model: str) -> dict[str, Any]:
    """The ``/v1/models`` entry for ``model`` (``owned_by`` names the engine: vllm, stic, …)."""
    data = payload.get("data") if isinstance(payload, Mapping) else None
    for entry in data or []:
        if isinstance(entry, Mapping) and entry.get("id") == model:
            keep = ("id", "owned_by", "root", "max_model_len", "engine")
            return {key: entry[key] for key in keep if key in entry}
    return {"id": model, "owned_by": None, "note": "model not listed by /v1/models"}
