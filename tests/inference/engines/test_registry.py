"""Every registered engine honours the engine protocol; the builtin and openai engines start for real."""

from __future__ import annotations

import inspect
from pathlib import Path

import httpx
import pytest

from inference.engines.base import Engine, Replica, ReplicaSpec
from inference.engines.builtin.engine import BuiltinEngine
from inference.engines.errors import EngineConfigError, EngineStartError, UnknownEngineError
from inference.engines.openai_compat import OpenAICompatEngine
from inference.engines.registry import ENGINES, engine_names, get_engine
from inference.engines.settings import EngineSettings


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_registered_engine_honours_the_protocol(name: str) -> None:
    engine = get_engine(name)
    assert isinstance(engine, Engine)
    assert engine.name == name
    assert inspect.iscoroutinefunction(engine.start)
    assert inspect.iscoroutinefunction(engine.stop)


def test_registry_lists_the_three_engines() -> None:
    assert engine_names() == ["builtin", "openai", "vllm"]


def test_unknown_engine_names_the_known_ones() -> None:
    with pytest.raises(UnknownEngineError, match="builtin, openai, vllm"):
        get_engine("tgi")


async def test_builtin_start_and_stop_round_trip(
    tiny_model_dir: Path, engine_settings: EngineSettings
) -> None:
    engine = BuiltinEngine(engine_settings)
    replica = await engine.start(ReplicaSpec(model=str(tiny_model_dir), served_model_name="round-trip"))
    try:
        assert await replica.check_health()
        assert replica.process is not None and replica.process.returncode is None
        response = await replica.client().chat_completions(
            {"model": "round-trip", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
        )
        assert response.ok
    finally:
        await engine.stop(replica)
    assert replica.process.returncode is not None
    assert not await replica.check_health()
    await engine.stop(replica)  # idempotent


@pytest.mark.parametrize("engine", [BuiltinEngine(), get_engine("vllm")], ids=["builtin", "vllm"])
async def test_local_engines_refuse_a_path_without_a_model(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(EngineConfigError, match=r"config\.json"):
        await engine.start(ReplicaSpec(model=str(tmp_path), served_model_name="x"))


async def test_openai_engine_wraps_a_running_server(builtin_replica: Replica) -> None:
    engine = OpenAICompatEngine()
    replica = await engine.start(
        ReplicaSpec(model="tiny", served_model_name="external", url=builtin_replica.api_base + "/")
    )
    assert replica.api_base == builtin_replica.api_base
    assert replica.health_url == builtin_replica.health_url
    assert replica.metrics_url == builtin_replica.metrics_url
    assert replica.process is None
    assert await replica.check_health()
    models = await replica.client().models()
    assert models.body["data"][0]["id"] == builtin_replica.served_model_name
    await engine.stop(replica)
    assert await builtin_replica.check_health()  # stopping an external replica leaves it running


async def test_openai_engine_falls_back_to_models_with_the_key() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/models" and request.headers.get("authorization") == "Bearer sk-1":
            return httpx.Response(200, json={"object": "list", "data": []})
        return httpx.Response(404)

    engine = OpenAICompatEngine(http=httpx.AsyncClient(transport=httpx.MockTransport(handler)))
    replica = await engine.start(
        ReplicaSpec(model="gpt", served_model_name="gpt", url="https://api.example/v1", api_key="sk-1")
    )
    assert replica.health_url == "https://api.example/v1/models"
    assert replica.metrics_url is None


@pytest.mark.parametrize("url", [None, "ftp://x/v1", "api.example/v1"])
async def test_openai_engine_needs_an_http_url(url: str | None) -> None:
    with pytest.raises(EngineConfigError, match=r"spec\.url"):
        await OpenAICompatEngine().start(ReplicaSpec(model="m", served_model_name="m", url=url))


async def test_openai_engine_reports_an_upstream_that_does_not_answer() -> None:
    engine = OpenAICompatEngine(
        http=httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(503)))
    )
    with pytest.raises(EngineStartError, match="answers neither"):
        await engine.start(ReplicaSpec(model="m", served_model_name="m", url="http://down.example/v1"))


@pytest.mark.parametrize("engine", [BuiltinEngine(), get_engine("vllm")], ids=["builtin", "vllm"])
async def test_local_engines_refuse_an_api_key_they_would_not_enforce(
    engine: Engine, tiny_model_dir: Path
) -> None:
    with pytest.raises(EngineConfigError, match="api_key"):
        await engine.start(ReplicaSpec(model=str(tiny_model_dir), served_model_name="x", api_key="sk-1"))
