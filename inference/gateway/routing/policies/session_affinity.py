"""Session affinity by consistent hashing (as the vLLM production-stack session router)."""

from __future__ import annotations

import random
from collections.abc import Sequence

from inference.gateway.routing.endpoint import Endpoint, RequestKey
from inference.gateway.routing.policies.base import least_loaded
from inference.gateway.routing.policies.hashring import HashRing


class SessionAffinity:
    """Requests with the same session (else user) go to the same endpoint while it is available.

    The ring is built over all members, not only the available ones: when an endpoint is
    unhealthy or ejected its keys go to the next endpoint clockwise and come back when it
    returns; every other key stays where it was. Requests without a session or user are
    routed by least outstanding requests.
    """

    name = "session-affinity"

    def __init__(self, rng: random.Random, *, vnodes: int = 160) -> None:
        self._rng = rng
        self._ring = HashRing(vnodes=vnodes)

    def update_members(self, endpoints: Sequence[Endpoint]) -> None:
        """Rebuild the ring over the member ids."""
        self._ring.rebuild([e.id for e in endpoints])

    def choose(self, candidates: Sequence[Endpoint], key: RequestKey) -> Endpoint:
        """The first available endpoint clockwise from the key's hash."""
        affinity = key.affinity
        if affinity is None:
            return least_loaded(candidates, self._rng)
        by_id = {e.id: e for e in candidates}
        for member in self._ring.walk(affinity):
            if member in by_id:
                return by_id[member]
        return least_loaded(candidates, self._rng)
