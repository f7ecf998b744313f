"""Uniform random choice: the baseline the other policies are measured against."""

from __future__ import annotations

import random
from collections.abc import Sequence

from inference.gateway.routing.endpoint import Endpoint, RequestKey
from inference.gateway.routing.policies.base import MembershipIgnored


class RandomChoice(MembershipIgnored):
    """Choose a candidate uniformly at random, ignoring load."""

    name = "random"

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def choose(self, candidates: Sequence[Endpoint], key: RequestKey) -> Endpoint:
        """A uniformly random candidate."""
        return self._rng.choice(candidates)
