"""Active health checks against httpx.MockTransport upstreams."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from inference.gateway.routing import EndpointSpec, HealthChecker, ReplicaSet, RequestKey

from .conftest import MakeSet


class Upstreams:
    """Health answers per host: a status code, ``"refuse"`` (connect error) or ``"hang"``."""

    def __init__(self, **answers: int | str) -> None:
        self.answers: dict[str, int | str] = dict(answers)
        self.probes: list[str] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host.removesuffix(".test")
        self.probes.append(host)
        answer = self.answers.get(host, 200)
        if answer == "refuse":
            raise httpx.ConnectError("connection refused", request=request)
        if answer == "hang":
            await asyncio.sleep(30)
        assert isinstance(answer, int)
        return httpx.Response(answer, json={"status": "ok" if answer == 200 else "down"})


def checker_for(upstreams: Upstreams, **kwargs: float) -> tuple[HealthChecker, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(upstreams))
    return HealthChecker(http=http, unhealthy_threshold=3, healthy_threshold=2, **kwargs), http  # type: ignore[arg-type]


def healthy_ids(replica_set: ReplicaSet) -> set[str]:
    return {e.id for e in replica_set.endpoints if e.healthy}


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (503, "HTTP 503"),
        (404, "HTTP 404"),
        ("refuse", "ConnectError: connection refused"),
        ("hang", "no answer"),
    ],
)
async def test_unhealthy_after_threshold_failures_healthy_after_threshold_successes(
    make_set: MakeSet, answer: int | str, error: str
) -> None:
    replica_set = make_set(2)
    upstreams = Upstreams(r0=answer)
    checker, http = checker_for(upstreams, timeout_s=0.05)
    checker.watch(replica_set)
    for _ in range(2):
        await checker.check_once()
    assert healthy_ids(replica_set) == {"r0", "r1"}  # 2 failures < threshold 3
    await checker.check_once()
    assert healthy_ids(replica_set) == {"r1"}
    r0 = replica_set.get("r0")
    assert r0 is not None and r0.last_health_error is not None and error in r0.last_health_error
    assert {replica_set.pick(RequestKey()).id for _ in range(20)} == {"r1"}
    upstreams.answers["r0"] = 200
    await checker.check_once()
    assert healthy_ids(replica_set) == {"r1"}  # 1 success < threshold 2
    await checker.check_once()
    assert healthy_ids(replica_set) == {"r0", "r1"}
    assert r0.last_health_error is None
    await http.aclose()


async def test_a_success_resets_the_failure_streak(make_set: MakeSet) -> None:
    replica_set = make_set(1)
    upstreams = Upstreams(r0=500)
    checker, http = checker_for(upstreams)
    checker.watch(replica_set)
    for answer in (500, 500, 200, 500, 500):
        upstreams.answers["r0"] = answer
        await checker.check_once()
    assert healthy_ids(replica_set) == {"r0"}
    await http.aclose()


async def test_each_url_is_probed_once_per_round_and_empty_urls_are_not_probed(make_set: MakeSet) -> None:
    first = make_set(2)
    second = make_set(2, model="other")  # same replicas in another set (e.g. a traffic split)
    external = ReplicaSet(model="ext", metrics=first.metrics)
    external.sync([EndpointSpec(id="ext", api_base="https://api.example/v1", health_url="")])
    upstreams = Upstreams(r0="refuse")
    checker, http = checker_for(upstreams)
    for replica_set in (first, second, external, first):
        checker.watch(replica_set)
    for _ in range(3):
        await checker.check_once()
    assert sorted(upstreams.probes) == ["r0"] * 3 + ["r1"] * 3
    assert healthy_ids(first) == healthy_ids(second) == {"r1"}
    assert healthy_ids(external) == {"ext"}
    checker.unwatch(second)
    await checker.check_once()
    assert len(upstreams.probes) == 8
    await http.aclose()


async def test_background_rounds_start_and_stop(make_set: MakeSet) -> None:
    replica_set = make_set(1)
    upstreams = Upstreams(r0=503)
    checker, http = checker_for(upstreams, interval_s=0.001)
    checker.watch(replica_set)
    await checker.start()
    await checker.start()  # idempotent
    for _ in range(1000):
        if not replica_set.endpoints[0].healthy:
            break
        await asyncio.sleep(0.001)
    await checker.stop()
    assert not replica_set.endpoints[0].healthy
    probes = len(upstreams.probes)
    assert probes >= 3
    await asyncio.sleep(0.01)
    assert len(upstreams.probes) == probes  # stopped for good
    assert not http.is_closed  # an injected client belongs to the caller
    await http.aclose()


async def test_owned_client_is_closed_on_stop() -> None:
    checker = HealthChecker()
    await checker.start()
    await checker.stop()
    assert checker._http.is_closed


@pytest.mark.parametrize(
    "kwargs", [{"interval_s": 0.0}, {"timeout_s": -1.0}, {"unhealthy_threshold": 0}, {"healthy_threshold": 0}]
)
def test_invalid_settings(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        HealthChecker(**kwargs)  # type: ignore[arg-type]
