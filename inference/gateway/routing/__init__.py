"""Gateway routing: replica sets, load-balancing policies, active health checks, passive ejection
and failover before the first byte. A pure asyncio library; the gateway wires it in.

Typical use::

    replicas = ReplicaSet("least-outstanding", model=service_id)
    replicas.sync([EndpointSpec(id=r.replica_id, api_base=r.api_base, health_url=r.health_url) ...])
    checker.watch(replicas)
    answer = await with_failover(replicas, request_key_for(body), attempt)
"""

from __future__ import annotations

from inference.gateway.routing.ejection import EjectionConfig
from inference.gateway.routing.endpoint import Endpoint, EndpointSpec, RequestKey
from inference.gateway.routing.errors import AllReplicasFailed, NoHealthyReplica
from inference.gateway.routing.failover import Held, hold_with_failover, raise_if_unavailable, with_failover
from inference.gateway.routing.health import HealthChecker
from inference.gateway.routing.keys import prompt_prefix, request_key_for
from inference.gateway.routing.metrics import RoutingMetrics, default_metrics
from inference.gateway.routing.policies import DEFAULT_POLICY, POLICIES, Policy
from inference.gateway.routing.replica_set import ReplicaSet, make_policy

__all__ = [
    "DEFAULT_POLICY",
    "POLICIES",
    "AllReplicasFailed",
    "EjectionConfig",
    "Endpoint",
    "EndpointSpec",
    "HealthChecker",
    "Held",
    "NoHealthyReplica",
    "Policy",
    "ReplicaSet",
    "RequestKey",
    "RoutingMetrics",
    "default_metrics",
    "hold_with_failover",
    "make_policy",
    "prompt_prefix",
    "raise_if_unavailable",
    "request_key_for",
    "with_failover",
]
