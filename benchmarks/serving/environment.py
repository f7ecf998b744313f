"""What a serving result was measured on: host CPU, cores, load, and the engine behind the URL."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import time
from collections.abc import Mapping
from typing import Any


def cpu_model() -> str:
    """The CPU model name from ``/proc/cpuinfo`` (or the platform's guess)."""
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _python_unit() -> None:
    table = {f"key-{index}": [index, str(index), {"value": index * 1.5}] for index in range(200)}
    json.loads(json.dumps(table))
    sorted(table, key=lambda name: name[::-1])


def python_unit_us(runs: int = 9) -> float:
    """Microseconds one fixed unit of pure-Python work (dicts, strings, JSON, a sort) takes here.

    The median of ``runs``; the same "2 GHz Xeon" can run Python 40 % slower from one machine to
    the next, and a CPU-bound figure such as the gateway's CPU per request scales with this one.
    """
    _python_unit()  # warm up
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        _python_unit()
        samples.append((time.perf_counter() - started) * 1e6)
    return round(statistics.median(samples), 1)


def host_environment() -> dict[str, Any]:
    """Python, platform, CPU model, cores usable by this process, the 1-minute load average and
    :func:`python_unit_us` (how fast this machine runs Python)."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python_unit_us": python_unit_us(),
    }


def engine_from_models(payload: Any, model: str) -> dict[str, Any]:
    """The ``/v1/models`` entry for ``model`` (``owned_by`` names the engine: vllm, stic, …)."""
    data = payload.get("data") if isinstance(payload, Mapping) else None
    for entry in data or []:
        if isinstance(entry, Mapping) and entry.get("id") == model:
            keep = ("id", "owned_by", "root", "max_model_len", "engine")
            return {key: entry[key] for key in keep if key in entry}
    return {"id": model, "owned_by": None, "note": "model not listed by /v1/models"}
