"""Resource vectors used by queues, jobs and nodes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from scheduler.model.errors import ModelError

RESOURCE_NAMES = ("cpu", "memory", "accelerators")
"""Quota resource names: CPU in milli-cores, memory in MiB, accelerators in milli-accelerators."""


@dataclass(frozen=True, slots=True)
class Resources:
    """An immutable non-negative resource vector (milli-CPU, MiB, milli-accelerators)."""

    cpu_milli: int = 0
    memory_mib: int = 0
    accel_milli: int = 0

    def __post_init__(self) -> None:
        for name in ("cpu_milli", "memory_mib", "accel_milli"):
            if getattr(self, name) < 0:
                raise ModelError(name, "must be >= 0")

    @classmethod
    def from_mapping(cls, data: Mapping[str, int | float], *, field: str = "resources") -> Resources:
        """Build from ``{"cpu": milli, "memory": MiB, "accelerators": milli}``; unknown keys raise."""
        unknown = set(data) - set(RESOURCE_NAMES)
        if unknown:
            raise ModelError(
                f"{field}.{sorted(unknown)[0]}", f"unknown resource; expected one of {RESOURCE_NAMES}"
            )
        return cls(int(data.get("cpu", 0)), int(data.get("memory", 0)), int(data.get("accelerators", 0)))

    def as_tuple(self) -> tuple[int, int, int]:
        """The vector as ``(cpu_milli, memory_mib, accel_milli)``."""
        return (self.cpu_milli, self.memory_mib, self.accel_milli)

    def as_dict(self) -> dict[str, int]:
        """The vector keyed by :data:`RESOURCE_NAMES`."""
        return dict(zip(RESOURCE_NAMES, self.as_tuple(), strict=True))

    def __add__(self, other: Resources) -> Resources:
        return Resources(
            self.cpu_milli + other.cpu_milli,
            self.memory_mib + other.memory_mib,
            self.accel_milli + other.accel_milli,
        )

    def fits_in(self, other: Resources) -> bool:
        """True when every component is <= the other's."""
        return (
            self.cpu_milli <= other.cpu_milli
            and self.memory_mib <= other.memory_mib
            and self.accel_milli <= other.accel_milli
        )


ZERO = Resources()
