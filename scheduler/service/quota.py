"""How jobs and queues map onto the kernel's quota resources (``services.quotas``).

A job reserves, at submission, what it needs at its maximum size: ``cpu_millicores``,
``memory_mib``, ``accelerator_memory_mib`` (shared devices) and ``accelerators/<key>`` in whole
devices (a shared task counts its share, rounded up per group). The key names the product when
the group's type constraint resolves to one model (``accelerators/a100-sxm4-80gb``), the vendor
when it resolves to one vendor (``accelerators/nvidia``), else ``accelerators/any``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from typing import Any

from scheduler.model import AcceleratorModel


def slug(text: str) -> str:
    """Lower-case quota-safe form of a product or vendor name."""
    return re.sub(r"[^a-z0-9.-]+", "-", text.lower()).strip("-.")[:63] or "x"


def accelerator_key(types: Collection[str], models: Collection[AcceleratorModel]) -> str:
    """The ``accelerators/<key>`` resource charged for a group with the type constraint ``types``."""
    matching = [m for m in models if not types or any(m.matches(t) for t in types)]
    names = {m.model for m in matching}
    vendors = {m.vendor.value for m in matching}
    if len(names) == 1:
        return f"accelerators/{slug(names.pop())}"
    if len(vendors) == 1:
        return f"accelerators/{slug(vendors.pop())}"
    return "accelerators/any"


def job_resources(spec: dict[str, Any], models: Collection[AcceleratorModel]) -> dict[str, int]:
    """Quota resources a stored job spec reserves (at its maximum replicas)."""
    out: dict[str, int] = {"cpu_millicores": 0, "memory_mib": 0}
    for g in spec["groups"]:
        n = g["replicas"]
        out["cpu_millicores"] += n * g["cpu_milli"]
        out["memory_mib"] += n * g["memory_mib"]
        acc = g.get("accelerators")
        if acc is None:
            continue
        key = accelerator_key(acc["types"], models)
        if acc["mode"] == "shared":
            devices = math.ceil(n * acc["compute_milli"] / 1000)
            out["accelerator_memory_mib"] = out.get("accelerator_memory_mib", 0) + n * acc["memory_mib"]
        else:
            devices = n * acc["count"]
        out[key] = out.get(key, 0) + devices
    return {k: v for k, v in out.items() if v > 0}


def accelerator_ceiling(limits: dict[str, int], models: Collection[AcceleratorModel]) -> int | None:
    """Whole devices a quota scope allows in all, or None when some product present is unlimited."""
    if not models:
        return None
    total = 0
    for model in models:
        by_model = limits.get(f"accelerators/{slug(model.model)}")
        by_vendor = limits.get(f"accelerators/{slug(model.vendor.value)}")
        bound = min((b for b in (by_model, by_vendor) if b is not None), default=None)
        if bound is None:
            return None
        total += bound
    return total
