"""Choosing a variant of a split for one request (pure; unit-tested table-driven)."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping

from inference.gateway.splits.schemas import SplitSpec, Variant

_BUCKETS = 1 << 32


def _bucket(route_id: str, key: str) -> float:
    """A stable point in [0, 1) for ``key`` on this route (a different route reshuffles callers)."""
    digest = hashlib.sha256(f"{route_id}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / _BUCKETS


def _by_point(variants: list[Variant], point: float) -> Variant:
    total = sum(v.weight for v in variants)
    edge = 0.0
    for variant in variants:
        edge += variant.weight / total
        if point < edge:
            return variant
    return next(v for v in reversed(variants) if v.weight > 0)


def choose_variant(
    spec: SplitSpec,
    *,
    route_id: str,
    user: str | None,
    caller: str,
    headers: Mapping[str, str],
    rng: random.Random | None = None,
) -> Variant:
    """The variant for a request: a header override, else sticky hashing, else a weighted draw.

    ``caller`` (the API key id) stands in for ``user`` when the request names none; ``headers``
    must have lower-case names.
    """
    for override in spec.overrides:
        if headers.get(override.header.lower()) == override.value:
            return next(v for v in spec.variants if v.name == override.variant)
    key: str | None = None
    if spec.sticky_by == "user":
        key = user or caller
    elif spec.sticky_by == "header":
        key = headers.get(spec.sticky_header.lower())
    point = _bucket(route_id, key) if key is not None else (rng or random).random()
    return _by_point(spec.variants, point)
