"""with_failover / hold_with_failover: retries before the first byte, bookkeeping, concurrency."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import httpx
import pytest
from prometheus_client import CollectorRegistry

from inference.engines.errors import EngineUnavailableError, UpstreamResponse
from inference.engines.http_client import OpenAIHTTPClient
from inference.gateway.routing import (
    AllReplicasFailed,
    EjectionConfig,
    Endpoint,
    NoHealthyReplica,
    ReplicaSet,
    RequestKey,
    hold_with_failover,
    raise_if_unavailable,
    with_failover,
)

from .conftest import FakeClock, MakeSet


def outstanding(replica_set: ReplicaSet) -> dict[str, int]:
    return {e.id: e.outstanding for e in replica_set.endpoints}


class Script:
    """An attempt that fails on the endpoints named in ``down`` and records every call."""

    def __init__(self, down: set[str], *, clock: FakeClock | None = None) -> None:
        self.down = down
        self.calls: list[str] = []
        self.clock = clock

    async def __call__(self, endpoint: Endpoint) -> str:
        self.calls.append(endpoint.id)
        if self.clock is not None:
            self.clock.advance(0.25)
        if endpoint.id in self.down:
            raise EngineUnavailableError(f"connect refused by {endpoint.id}")
        return f"answer from {endpoint.id}"


async def test_retries_on_another_endpoint_and_counts_the_failure(
    make_set: MakeSet, clock: FakeClock, registry: CollectorRegistry
) -> None:
    replica_set = make_set(3)
    replica_set.get("r1").outstanding = 1
    replica_set.get("r2").outstanding = 1
    attempt = Script(down={"r0"}, clock=clock)
    answer = await with_failover(replica_set, RequestKey(), attempt)
    assert attempt.calls[0] == "r0" and len(attempt.calls) == 2
    assert answer == f"answer from {attempt.calls[1]}"
    r0 = replica_set.get("r0")
    assert r0 is not None and r0.consecutive_failures == 1 and r0.failures_total == 1
    assert outstanding(replica_set) == {"r0": 0, "r1": 1, "r2": 1}
    assert registry.get_sample_value("stic_gateway_failover_retries_total", {"model": "m"}) == 1.0
    ok = registry.get_sample_value(
        "stic_gateway_endpoint_requests_total", {"model": "m", "endpoint": attempt.calls[1], "outcome": "ok"}
    )
    assert ok == 1.0
    latency_sum = registry.get_sample_value(
        "stic_gateway_endpoint_latency_seconds_sum", {"model": "m", "endpoint": "r0"}
    )
    assert latency_sum == pytest.approx(0.25)


@pytest.mark.parametrize(("members", "max_attempts", "tried"), [(3, 3, 3), (5, 2, 2), (2, 3, 2)])
async def test_all_attempts_failing_names_every_endpoint_tried(
    make_set: MakeSet, members: int, max_attempts: int, tried: int
) -> None:
    replica_set = make_set(members)
    attempt = Script(down={f"r{i}" for i in range(members)})
    with pytest.raises(AllReplicasFailed) as caught:
        await with_failover(replica_set, RequestKey(), attempt, max_attempts=max_attempts)
    error = caught.value
    assert error.tried == attempt.calls and len(set(error.tried)) == tried
    assert all(f"{eid}: connect refused by {eid}" in str(error) for eid in error.tried)
    assert isinstance(error.__cause__, EngineUnavailableError)
    assert not error.after_first_byte
    if members < max_attempts:
        assert "no other replica to try" in str(error)
    assert set(outstanding(replica_set).values()) == {0}


async def test_nothing_available_raises_no_healthy_replica(make_set: MakeSet) -> None:
    replica_set = make_set(1)
    replica_set.set_healthy(replica_set.endpoints[0], False, error="HTTP 500")
    attempt = Script(down=set())
    with pytest.raises(NoHealthyReplica, match="HTTP 500"):
        await with_failover(replica_set, RequestKey(), attempt)
    assert attempt.calls == []


async def test_failure_after_first_byte_is_not_retried(make_set: MakeSet) -> None:
    replica_set = make_set(3)
    calls: list[str] = []

    async def broken_mid_stream(endpoint: Endpoint) -> None:
        calls.append(endpoint.id)
        raise EngineUnavailableError("stream broke", after_first_byte=True)

    with pytest.raises(EngineUnavailableError, match="stream broke"):
        await with_failover(replica_set, RequestKey(), broken_mid_stream)
    assert len(calls) == 1
    assert replica_set.get(calls[0]).failures_total == 1


@pytest.mark.parametrize("error", [ValueError("bad request body"), asyncio.CancelledError()])
async def test_other_errors_propagate_without_blaming_the_endpoint(
    make_set: MakeSet, error: BaseException
) -> None:
    replica_set = make_set(2)
    calls: list[str] = []

    async def refuses(endpoint: Endpoint) -> None:
        calls.append(endpoint.id)
        raise error

    with pytest.raises(type(error)):
        await with_failover(replica_set, RequestKey(), refuses)
    assert len(calls) == 1
    assert outstanding(replica_set) == {"r0": 0, "r1": 0}
    assert all(e.failures_total == 0 and e.consecutive_failures == 0 for e in replica_set.endpoints)


async def test_max_attempts_must_be_positive(make_set: MakeSet) -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        await with_failover(make_set(1), RequestKey(), Script(set()), max_attempts=0)


async def test_held_stream_stays_outstanding_until_closed(make_set: MakeSet, clock: FakeClock) -> None:
    replica_set = make_set(2)
    held = await hold_with_failover(replica_set, RequestKey(), Script(down={"r0"}))
    assert held.endpoint.id == "r1" and held.attempts in {1, 2}
    assert held.endpoint.outstanding == 1  # the stream continues after the first chunk
    clock.advance(3.0)
    held.finish()
    held.finish()  # idempotent
    assert held.endpoint.outstanding == 0
    assert held.endpoint.latency_ewma_s == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("raised", "failures"),
    [
        (None, 0),
        (EngineUnavailableError("broke", after_first_byte=True), 1),
        (RuntimeError("client left"), 0),
    ],
)
async def test_held_as_context_manager(make_set: MakeSet, raised: Exception | None, failures: int) -> None:
    replica_set = make_set(1)
    held = await hold_with_failover(replica_set, RequestKey(), Script(down=set()))
    with pytest.raises(type(raised)) if raised else _no_raise():
        async with held:
            if raised:
                raise raised
    assert held.endpoint.outstanding == 0
    assert held.endpoint.failures_total == failures


class _no_raise:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.mark.parametrize(
    ("status", "raises"), [(200, False), (400, False), (429, False), (500, True), (503, True)]
)
def test_raise_if_unavailable(make_set: MakeSet, status: int, raises: bool) -> None:
    endpoint = make_set(1).endpoints[0]
    response = UpstreamResponse(status, {"error": {"message": "overloaded"}})
    if raises:
        with pytest.raises(EngineUnavailableError, match=f"r0 answered {status}"):
            raise_if_unavailable(response, endpoint=endpoint)
    else:
        assert raise_if_unavailable(response, endpoint=endpoint) is response


async def test_many_concurrent_requests_leave_no_outstanding(make_set: MakeSet) -> None:
    replica_set = make_set(
        4, ejection=EjectionConfig(consecutive_failures=1000)
    )  # keep all in rotation: this test is about counting
    rng = random.Random(11)
    flaky = {"r3"}
    peak = 0
    served: Counter[str] = Counter()

    async def attempt(endpoint: Endpoint) -> str:
        nonlocal peak
        peak = max(peak, sum(e.outstanding for e in replica_set.endpoints))
        for _ in range(rng.randrange(1, 6)):
            await asyncio.sleep(0)
        if endpoint.id in flaky and rng.random() < 0.5:
            raise EngineUnavailableError("flaky")
        served[endpoint.id] += 1
        return endpoint.id

    results = await asyncio.gather(
        *(with_failover(replica_set, RequestKey(), attempt) for _ in range(2000)), return_exceptions=True
    )
    assert all(isinstance(r, str) for r in results)  # one retry always finds a good endpoint
    assert outstanding(replica_set) == {"r0": 0, "r1": 0, "r2": 0, "r3": 0}
    assert peak > 100  # the requests really overlapped
    assert sum(served.values()) == 2000 and min(served.values()) > 200
    assert sum(e.requests_total for e in replica_set.endpoints) == 2000 + replica_set.get("r3").failures_total


async def test_failover_through_the_real_http_client(make_set: MakeSet) -> None:
    """A refused connection and a 503 from two replicas; the third answers."""

    def upstream(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host == "r0.test":
            raise httpx.ConnectError("connection refused", request=request)
        if host == "r1.test":
            return httpx.Response(503, json={"error": {"message": "engine overloaded"}})
        return httpx.Response(200, json={"object": "chat.completion", "served_by": host})

    replica_set = make_set(3, policy="weighted", weights=[3.0, 2.0, 1.0])  # r0, then r1, then r2
    async with httpx.AsyncClient(transport=httpx.MockTransport(upstream)) as http:

        async def attempt(endpoint: Endpoint) -> UpstreamResponse:
            client = OpenAIHTTPClient(api_base=endpoint.spec.api_base, http=http)
            response = await client.chat_completions({"model": "m", "messages": []})
            return raise_if_unavailable(response, endpoint=endpoint)

        response = await with_failover(replica_set, RequestKey(), attempt)
    assert response.body["served_by"] == "r2.test"
    assert [e.failures_total for e in replica_set.endpoints] == [1, 1, 0]


async def test_a_replica_dying_under_load_loses_no_request_and_is_ejected(
    make_set: MakeSet, clock: FakeClock
) -> None:
    """600 requests arrive in waves over three replicas; r1 dies after the 200th answer. Every
    request still gets an answer, r1 is ejected after its consecutive failures and new requests
    no longer go to it."""
    replica_set = make_set(3, ejection=EjectionConfig(consecutive_failures=3, base_ejection_s=30.0))
    state = {"answered": 0, "r1_dead": False}

    async def upstream(request: httpx.Request) -> httpx.Response:
        host = request.url.host.removesuffix(".test")
        for _ in range(3):  # the replica takes a while: requests overlap
            await asyncio.sleep(0)
        if host == "r1" and state["r1_dead"]:
            raise httpx.ConnectError("connection refused", request=request)
        state["answered"] += 1
        if state["answered"] == 200:
            state["r1_dead"] = True
        return httpx.Response(200, json={"served_by": host})

    async with httpx.AsyncClient(transport=httpx.MockTransport(upstream)) as http:

        async def one_request() -> str:
            async def attempt(endpoint: Endpoint) -> UpstreamResponse:
                client = OpenAIHTTPClient(api_base=endpoint.spec.api_base, http=http)
                return raise_if_unavailable(await client.completions({"prompt": "x"}), endpoint=endpoint)

            response = await with_failover(replica_set, RequestKey(), attempt)
            return str(response.body["served_by"])

        async def waves(count: int) -> list[str]:
            tasks = []
            for i in range(count):
                tasks.append(asyncio.create_task(one_request()))
                if i % 20 == 19:
                    await asyncio.sleep(0)
            return list(await asyncio.gather(*tasks))

        served = await waves(600)
        r1 = replica_set.get("r1")
        assert r1 is not None
        assert r1.times_ejected == 1 and r1.is_ejected(clock())
        assert r1.failures_total >= 3
        routed_to_r1 = r1.requests_total
        after = await waves(300)

    assert len(served) == 600 and "r1" in served
    assert set(after) == {"r0", "r2"} and r1.requests_total == routed_to_r1
    assert set(outstanding(replica_set).values()) == {0}
