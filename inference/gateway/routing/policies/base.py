"""The policy protocol: choose one endpoint among the available candidates."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Protocol

from inference.gateway.routing.endpoint import Endpoint, RequestKey


class Policy(Protocol):
    """A load-balancing policy.

    ``update_members`` is called with every endpoint of the set (available or not) whenever the
    membership changes; ``choose`` is called with the non-empty list of endpoints that may take
    the request right now (healthy, not ejected, not excluded) and must return one of them.
    Both run on the event loop and must not block.
    """

    name: str

    def update_members(self, endpoints: Sequence[Endpoint]) -> None: ...

    def choose(self, candidates: Sequence[Endpoint], key: RequestKey) -> Endpoint: ...


PolicyFactory = Callable[[random.Random], Policy]


def least_loaded(candidates: Sequence[Endpoint], rng: random.Random) -> Endpoint:
    """The candidate with the fewest outstanding requests; ties broken uniformly at random."""
    best: list[Endpoint] = []
    low = -1
    for endpoint in candidates:
        if low < 0 or endpoint.outstanding < low:
            low = endpoint.outstanding
            best = [endpoint]
        elif endpoint.outstanding == low:
            best.append(endpoint)
    return best[0] if len(best) == 1 else rng.choice(best)


class MembershipIgnored:
    """Mixin for policies that keep no per-member state."""

    def update_members(self, endpoints: Sequence[Endpoint]) -> None:
        """Nothing to do."""
