"""Smooth weighted round robin (nginx's algorithm) over ``EndpointSpec.weight``."""

from __future__ import annotations

import random
from collections.abc import Sequence

from inference.gateway.routing.endpoint import Endpoint, RequestKey
from inference.gateway.routing.policies.base import least_loaded


class Weighted:
    """Each pick adds every candidate's weight to its running score, chooses the highest score
    and subtracts the total weight from it. Over any window the shares match the weights and
    picks of one endpoint are spread out (weights 5,1,1 give a a b a c a a, not a a a a a b c).
    Endpoints with weight 0 only get traffic when every candidate has weight 0 (then least
    outstanding requests decides).
    """

    name = "weighted"

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._current: dict[str, float] = {}

    def update_members(self, endpoints: Sequence[Endpoint]) -> None:
        """Forget the scores of endpoints that left."""
        keep = {e.id for e in endpoints}
        self._current = {eid: score for eid, score in self._current.items() if eid in keep}

    def choose(self, candidates: Sequence[Endpoint], key: RequestKey) -> Endpoint:
        """The candidate with the highest running score."""
        total = 0.0
        best: Endpoint | None = None
        best_score = 0.0
        for endpoint in candidates:
            weight = endpoint.spec.weight
            if weight <= 0.0:
                continue
            score = self._current.get(endpoint.id, 0.0) + weight
            self._current[endpoint.id] = score
            total += weight
            if best is None or score > best_score:
                best, best_score = endpoint, score
        if best is None:
            return least_loaded(candidates, self._rng)
        self._current[best.id] = best_score - total
        return best
