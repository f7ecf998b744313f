"""Units of the 8.2.3 performance table and conversion between units of one dimension.

A unit string is an optional Chinese multiplier (万 = 10⁴, 百万 = 10⁶, 亿 = 10⁸) followed by a base unit.
Base units of the same dimension convert into each other (ms ↔ s ↔ min, MB/s ↔ GB/s, % ↔ ratio).
Factors and conversions are exact (:class:`~fractions.Fraction`), so a value on a threshold stays on it
(0.65 in ``ratio`` is exactly 65 %). Count-like units (IOPS, QPS, cards, connections, …) form one
dimension each, so a result in QPS is never silently read as IOPS. ``""`` is the unit of rows judged
by capability only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction


class UnitError(ValueError):
    """A unit is unknown, or two units cannot be converted into each other."""


@dataclass(frozen=True, slots=True)
class Unit:
    """A parsed unit: its dimension and the factor to that dimension's base unit."""

    text: str
    dimension: str
    factor: Fraction


_BASE: dict[str, tuple[str, Fraction]] = {
    "%": ("ratio", Fraction(1, 100)),
    "ratio": ("ratio", Fraction(1)),
    "ns": ("time", Fraction(1, 10**9)),
    "us": ("time", Fraction(1, 10**6)),
    "μs": ("time", Fraction(1, 10**6)),
    "µs": ("time", Fraction(1, 10**6)),
    "ms": ("time", Fraction(1, 1000)),
    "s": ("time", Fraction(1)),
    "min": ("time", Fraction(60)),
    "h": ("time", Fraction(3600)),
    "ms/token": ("time", Fraction(1, 1000)),  # an interval between tokens
    "s/token": ("time", Fraction(1)),
    "B/s": ("bandwidth", Fraction(1)),
    "KB/s": ("bandwidth", Fraction(10**3)),
    "MB/s": ("bandwidth", Fraction(10**6)),
    "GB/s": ("bandwidth", Fraction(10**9)),
    "TB/s": ("bandwidth", Fraction(10**12)),
    "KiB/s": ("bandwidth", Fraction(2**10)),
    "MiB/s": ("bandwidth", Fraction(2**20)),
    "GiB/s": ("bandwidth", Fraction(2**30)),
    "Gbit/s": ("bandwidth", Fraction(10**9, 8)),
    "Gbps": ("bandwidth", Fraction(10**9, 8)),
    "B": ("size", Fraction(1)),
    "KB": ("size", Fraction(10**3)),
    "MB": ("size", Fraction(10**6)),
    "GB": ("size", Fraction(10**9)),
    "KiB": ("size", Fraction(2**10)),
    "MiB": ("size", Fraction(2**20)),
    "GiB": ("size", Fraction(2**30)),
    "": ("none", Fraction(1)),
}
# Each of these is its own dimension, in "per second" or plain counts; a multiplier still applies.
_COUNTS = (
    "cards",
    "connections",
    "IOPS",
    "QPS",
    "packets/s",
    "samples/s",
    "vectors/s",
    "tokens/s",
    "tokens/s/GPU",
    "count",
)
_MULTIPLIERS = {"百万": Fraction(10**6), "万": Fraction(10**4), "亿": Fraction(10**8)}
_SPACES = re.compile(r"\s+")


def parse_unit(text: str) -> Unit:
    """Parse ``text`` (``"ms"``, ``"万 connections"``, ``"μ s"``); raises :class:`UnitError` if unknown."""
    compact = _SPACES.sub("", text)
    multiplier = Fraction(1)
    for prefix, value in _MULTIPLIERS.items():
        if compact.startswith(prefix):
            multiplier, compact = value, compact[len(prefix) :]
            break
    if compact in _BASE:
        dimension, factor = _BASE[compact]
        if multiplier != 1 and dimension != "none":
            raise UnitError(f"a Chinese multiplier applies only to counts, not to {compact!r} in {text!r}")
        if dimension == "none" and multiplier != 1:
            return Unit(text, "count", multiplier)
        return Unit(text, dimension, factor * multiplier)
    for name in _COUNTS:
        if compact.lower() == name.lower():
            return Unit(text, name, multiplier)
    raise UnitError(f"unknown unit {text!r}")


def exact(value: float | int | Fraction) -> Fraction:
    """``value`` as an exact fraction of its decimal form (``0.65`` → 13/20, not the nearest binary float)."""
    if isinstance(value, Fraction):
        return value
    return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)


def convert(value: float | int | Fraction, *, from_unit: str, to_unit: str) -> Fraction:
    """``value`` in ``from_unit`` expressed in ``to_unit``; raises :class:`UnitError` across dimensions.

    A bare multiplier (``"万"``) converts into any count dimension, so ``5 万`` IOPS is 50,000 IOPS.
    """
    source, target = parse_unit(from_unit), parse_unit(to_unit)
    compatible = source.dimension == target.dimension or (
        source.dimension == "count" and target.dimension in _COUNTS
    )
    if not compatible:
        raise UnitError(
            f"cannot convert {from_unit!r} ({source.dimension}) to {to_unit!r} ({target.dimension})"
        )
    return exact(value) * source.factor / target.factor
