"""Routing policies as small classes, and the registry of their names (:data:`POLICIES`)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from inference.gateway.routing.policies.base import Policy, PolicyFactory, least_loaded
from inference.gateway.routing.policies.hashring import HashRing, stable_hash
from inference.gateway.routing.policies.least_outstanding import LeastOutstanding
from inference.gateway.routing.policies.power_of_two import PowerOfTwo
from inference.gateway.routing.policies.prefix_affinity import PrefixAffinity
from inference.gateway.routing.policies.random_choice import RandomChoice
from inference.gateway.routing.policies.session_affinity import SessionAffinity
from inference.gateway.routing.policies.weighted import Weighted

DEFAULT_POLICY = "least-outstanding"

POLICIES: Mapping[str, PolicyFactory] = MappingProxyType(
    {
        LeastOutstanding.name: LeastOutstanding,
        PowerOfTwo.name: PowerOfTwo,
        PrefixAffinity.name: PrefixAffinity,
        SessionAffinity.name: SessionAffinity,
        Weighted.name: Weighted,
        RandomChoice.name: RandomChoice,
    }
)
"""Policy name → factory taking a ``random.Random``. ``random`` is the load-blind baseline."""

__all__ = [
    "DEFAULT_POLICY",
    "POLICIES",
    "HashRing",
    "LeastOutstanding",
    "Policy",
    "PolicyFactory",
    "PowerOfTwo",
    "PrefixAffinity",
    "RandomChoice",
    "SessionAffinity",
    "Weighted",
    "least_loaded",
    "stable_hash",
]
