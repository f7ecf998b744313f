"""Membership, exclusion reasons, passive ejection and its limits, metrics series."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY, CollectorRegistry

from inference.gateway.routing import (
    EjectionConfig,
    Endpoint,
    EndpointSpec,
    NoHealthyReplica,
    ReplicaSet,
    RequestKey,
)
from services.kernel.errors import BadRequest

from .conftest import FakeClock, MakeSet, specs

FAST = EjectionConfig(consecutive_failures=3, base_ejection_s=10.0, max_ejection_s=35.0, decay_s=100.0)


def endpoint(replica_set: ReplicaSet, endpoint_id: str) -> Endpoint:
    found = replica_set.get(endpoint_id)
    assert found is not None
    return found


def fail(replica_set: ReplicaSet, endpoint_id: str, times: int = 1) -> None:
    target = endpoint(replica_set, endpoint_id)
    for _ in range(times):
        replica_set.started(target)
        replica_set.finished(target, ok=False, latency_s=0.01)


def succeed(replica_set: ReplicaSet, endpoint_id: str) -> None:
    target = endpoint(replica_set, endpoint_id)
    replica_set.started(target)
    replica_set.finished(target, ok=True, latency_s=0.01)


def available_ids(replica_set: ReplicaSet) -> set[str]:
    return {e.id for e in replica_set.available()}


def sample(registry: CollectorRegistry, name: str, endpoint_id: str, **extra: str) -> float | None:
    return registry.get_sample_value(name, {"model": "m", "endpoint": endpoint_id, **extra})


def test_unknown_policy_is_a_bad_request() -> None:
    with pytest.raises(BadRequest) as caught:
        ReplicaSet("fastest")
    assert caught.value.detail == {"field": "policy"}
    assert "least-outstanding" in caught.value.message


@pytest.mark.parametrize(
    ("spec_args", "message"),
    [
        ({"id": ""}, "id"),
        ({"id": "a", "weight": -1.0}, "weight"),
        ({"id": "a", "weight": float("nan")}, "weight"),
    ],
)
def test_endpoint_spec_validation(spec_args: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EndpointSpec(api_base="http://x/v1", health_url="", **spec_args)  # type: ignore[arg-type]


def test_sync_keeps_live_state_of_kept_ids_and_forgets_removed_ones(
    make_set: MakeSet, registry: CollectorRegistry
) -> None:
    replica_set = make_set(3)
    r1 = endpoint(replica_set, "r1")
    replica_set.started(r1)
    replica_set.sync(
        [EndpointSpec(id="r1", api_base="http://moved/v1", health_url="", weight=3.0), *specs(1)]
    )
    assert endpoint(replica_set, "r1") is r1
    assert r1.outstanding == 1 and r1.spec.weight == 3.0
    assert [e.id for e in replica_set.endpoints] == ["r1", "r0"]
    assert sample(registry, "stic_gateway_endpoint_outstanding_requests", "r1") == 1.0
    assert sample(registry, "stic_gateway_endpoint_healthy", "r2") is None  # series removed
    with pytest.raises(ValueError, match="duplicate"):
        replica_set.sync(specs(2) + specs(1))


def test_request_finishing_on_a_removed_endpoint_leaves_no_series(
    make_set: MakeSet, registry: CollectorRegistry
) -> None:
    replica_set = make_set(2)
    r0 = endpoint(replica_set, "r0")
    replica_set.started(r0)
    replica_set.sync(specs(2)[1:])
    replica_set.finished(r0, ok=False, latency_s=0.5)
    assert r0.outstanding == 0 and not r0.member
    assert sample(registry, "stic_gateway_endpoint_outstanding_requests", "r0") is None
    assert sample(registry, "stic_gateway_endpoint_requests_total", "r0", outcome="error") is None


def test_no_endpoints_and_all_excluded(make_set: MakeSet, clock: FakeClock) -> None:
    empty = make_set(0)
    with pytest.raises(NoHealthyReplica, match="no endpoints"):
        empty.pick(RequestKey())
    replica_set = make_set(3, ejection=FAST)
    replica_set.set_healthy(endpoint(replica_set, "r0"), False, error="HTTP 503")
    fail(replica_set, "r1", times=3)
    with pytest.raises(NoHealthyReplica) as caught:
        replica_set.pick(RequestKey(), exclude=frozenset({"r2"}))
    reasons = caught.value.reasons
    assert reasons["r0"].startswith("unhealthy") and "HTTP 503" in reasons["r0"]
    assert reasons["r1"].startswith("ejected for 10.0s more")
    assert reasons["r2"] == "already tried"
    assert all(eid in str(caught.value) for eid in ("r0", "r1", "r2"))


def test_consecutive_failures_eject_and_the_endpoint_returns_after_its_time(
    make_set: MakeSet, clock: FakeClock, registry: CollectorRegistry
) -> None:
    replica_set = make_set(3, ejection=FAST)
    fail(replica_set, "r0", times=2)
    succeed(replica_set, "r0")  # a success resets the streak
    fail(replica_set, "r0", times=2)
    assert available_ids(replica_set) == {"r0", "r1", "r2"}
    fail(replica_set, "r0")
    assert available_ids(replica_set) == {"r1", "r2"}
    assert sample(registry, "stic_gateway_endpoint_ejected", "r0") == 1.0
    assert sample(registry, "stic_gateway_endpoint_ejections_total", "r0") == 1.0
    assert {replica_set.pick(RequestKey()).id for _ in range(50)} == {"r1", "r2"}
    clock.advance(9.9)
    assert "r0" not in available_ids(replica_set)
    clock.advance(0.1)
    assert available_ids(replica_set) == {"r0", "r1", "r2"}
    assert sample(registry, "stic_gateway_endpoint_ejected", "r0") == 0.0
    assert endpoint(replica_set, "r0").probation


@pytest.mark.parametrize(
    ("ejections", "expected_s"),
    [(1, 10.0), (2, 20.0), (3, 30.0), (4, 35.0), (5, 35.0)],  # base × n, capped at max
)
def test_failing_again_on_probation_ejects_at_once_for_longer(
    make_set: MakeSet, clock: FakeClock, ejections: int, expected_s: float
) -> None:
    replica_set = make_set(3, ejection=FAST)
    r0 = endpoint(replica_set, "r0")
    fail(replica_set, "r0", times=3)
    for _ in range(ejections - 1):
        assert r0.ejected_until is not None
        clock.now = r0.ejected_until
        assert "r0" in available_ids(replica_set)
        fail(replica_set, "r0", times=1)  # one failure on probation is enough
    assert r0.times_ejected == ejections
    assert r0.ejected_until == pytest.approx(clock.now + expected_s)


def test_success_after_return_ends_probation_and_old_ejections_decay(
    make_set: MakeSet, clock: FakeClock
) -> None:
    replica_set = make_set(3, ejection=FAST)
    r0 = endpoint(replica_set, "r0")
    fail(replica_set, "r0", times=3)
    clock.advance(10.0)
    assert "r0" in available_ids(replica_set)
    succeed(replica_set, "r0")
    assert not r0.probation
    fail(replica_set, "r0", times=2)
    assert "r0" in available_ids(replica_set)  # back to needing 3 in a row
    clock.advance(100.0)
    succeed(replica_set, "r0")
    assert r0.times_ejected == 0  # one decay period without trouble forgets the ejection
    fail(replica_set, "r0", times=3)
    assert r0.ejected_until == pytest.approx(clock.now + 10.0)


@pytest.mark.parametrize(
    ("members", "percent", "cap"),
    [(1, 50.0, 0), (2, 50.0, 1), (3, 50.0, 1), (4, 50.0, 2), (10, 10.0, 1), (10, 100.0, 9), (5, 0.0, 0)],
)
def test_ejection_cap(members: int, percent: float, cap: int) -> None:
    assert EjectionConfig(max_ejection_percent=percent).ejection_cap(members) == cap


def test_never_ejects_beyond_the_cap_nor_the_last_available(make_set: MakeSet) -> None:
    replica_set = make_set(4, ejection=FAST)  # cap: 2 of 4
    for endpoint_id in ("r0", "r1", "r2"):
        fail(replica_set, endpoint_id, times=3)
    assert available_ids(replica_set) == {"r2", "r3"}
    fail(replica_set, "r2", times=5)
    assert "r2" in available_ids(replica_set)  # over the cap: stays in rotation
    two = make_set(2, ejection=FAST)
    two.set_healthy(endpoint(two, "r1"), False)
    fail(two, "r0", times=10)
    assert available_ids(two) == {"r0"}  # the last available endpoint is never ejected


def test_failures_of_requests_started_before_an_ejection_do_not_extend_it(make_set: MakeSet) -> None:
    replica_set = make_set(3, ejection=FAST)
    r0 = endpoint(replica_set, "r0")
    for _ in range(5):
        replica_set.started(r0)
    for _ in range(5):
        replica_set.finished(r0, ok=False, latency_s=1.0)
    assert r0.times_ejected == 1 and r0.outstanding == 0


def test_unhealthy_endpoints_are_skipped_until_healthy(
    make_set: MakeSet, registry: CollectorRegistry
) -> None:
    replica_set = make_set(2)
    r0 = endpoint(replica_set, "r0")
    replica_set.set_healthy(r0, False, error="ConnectError")
    assert sample(registry, "stic_gateway_endpoint_healthy", "r0") == 0.0
    assert {replica_set.pick(RequestKey()).id for _ in range(20)} == {"r1"}
    replica_set.set_healthy(r0, True)
    assert {replica_set.pick(RequestKey()).id for _ in range(50)} == {"r0", "r1"}


def test_snapshot_and_latency(make_set: MakeSet, clock: FakeClock) -> None:
    replica_set = make_set(2, ejection=FAST)
    r1 = endpoint(replica_set, "r1")
    replica_set.started(r1)
    replica_set.finished(r1, ok=True, latency_s=1.0)
    replica_set.started(r1)
    replica_set.finished(r1, ok=True, latency_s=2.0)
    fail(replica_set, "r0", times=3)
    view = {row["id"]: row for row in replica_set.snapshot()}
    assert view["r1"]["latency_ewma_s"] == pytest.approx(1.2)
    assert view["r1"]["requests"] == 2 and view["r1"]["failures"] == 0
    assert view["r0"]["ejected"] is True and view["r0"]["ejected_for_s"] == 10.0


def test_sets_share_the_process_registry_without_clashing() -> None:
    first = ReplicaSet(model="svc-test-a")
    second = ReplicaSet(model="svc-test-b")
    first.sync(specs(1))
    second.sync(specs(1))
    first.started(first.endpoints[0])
    labels = {"model": "svc-test-a", "endpoint": "r0"}
    assert REGISTRY.get_sample_value("stic_gateway_endpoint_outstanding_requests", labels) == 1.0
    assert (
        REGISTRY.get_sample_value(
            "stic_gateway_endpoint_outstanding_requests", {"model": "svc-test-b", "endpoint": "r0"}
        )
        == 0.0
    )
    first.finished(first.endpoints[0], ok=True, latency_s=0.0)
    first.sync([])
    second.sync([])
    assert REGISTRY.get_sample_value("stic_gateway_endpoint_outstanding_requests", labels) is None
