"""A model service on the real vLLM engine (CPU build): its replica is a scheduler job running
vLLM's OpenAI server, the test call answers, the status shows vLLM's own metrics, and the official
openai SDK talks to it through the gateway (chat, streaming chunk by chunk with usage, an error).
This is the suite's one real vLLM start (about two minutes on CPU): the engine's own command line
is unit-tested in tests/inference/engines/test_vllm_engine.py.

Needs ``.venv-vllm`` (``make vllm-env``): without it the test skips, except under ``CI=true``
where it fails. vLLM on CPU takes about two minutes to start; SQLite only.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from inference.engines.settings import EngineSettings
from inference.gateway.settings import GatewaySettings
from inference.modelservice.options import ModelServiceOptions
from scheduler.service.options import SchedulerOptions
from tests.conftest import PlatformDB, client_for
from tests.inference.modelservice.conftest import compose
from tests.services.builders import make_tenant, ok, unique

LIMIT_S = 600.0


def _require_vllm_env() -> None:
    python = EngineSettings().vllm_python
    if python.is_file():
        return
    reason = f"{python} does not exist; create it with `make vllm-env`"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the vLLM virtualenv is required under CI=true: {reason}")
    pytest.skip(reason)


async def _through_the_gateway(app: Any, token: str, model: str) -> None:
    await app.state.gateway.table.refresh()
    sdk = openai.AsyncOpenAI(
        base_url="http://stic.test/v1",
        api_key=token,
        http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=app)),
        max_retries=0,
    )
    kwargs: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": "What does a gateway do?"}],
        "temperature": 0,
        "max_tokens": 12,
    }
    whole = await sdk.chat.completions.create(**kwargs)
    assert whole.model == model and whole.usage is not None and whole.usage.completion_tokens >= 1
    stream = await sdk.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True})
    chunks = [chunk async for chunk in stream]
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 1, "vLLM must stream several chunks, relayed one by one"
    assert "".join(pieces) == whole.choices[0].message.content  # greedy: the same text either way
    assert any(c.choices and c.choices[0].finish_reason for c in chunks)
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    with pytest.raises(openai.BadRequestError):  # vLLM's own refusal, passed through in the OpenAI shape
        await sdk.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Hello"}], max_tokens=100_000
        )


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_vllm_service_runs_as_a_scheduler_job(
    own_sqlite_db: PlatformDB, tmp_path: Path, tiny_model_dir: Path
) -> None:
    _require_vllm_env()
    app = compose(
        own_sqlite_db,
        tmp_path,
        scheduler=SchedulerOptions(work_dir=tmp_path / "work", tick_s=0.2, cycle_s=0.5),
        models=ModelServiceOptions(tick_s=1.0, autoscaler_tick_s=60),
        extra=("gateway",),
    )
    app.state.gateway_settings = GatewaySettings(refresh_seconds=0.5)
    async with app.router.lifespan_context(app), client_for(app, own_sqlite_db.admin_token) as admin:
        t = await make_tenant(admin, roles=("developer",))
        async with client_for(app, t.tokens["developer"]) as dev:
            body = {
                "name": unique("vllm"),
                "project_id": t.project_id,
                "engine": "vllm",
                "model_dir": str(tiny_model_dir),
                "resources": {"cpu_milli": 1000, "memory_mib": 3072},
            }
            svc = await ok(await dev.post(f"/v1/tenants/{t.id}/model-services", json=body), 201)
            url = f"/v1/tenants/{t.id}/model-services/{svc['id']}"
            try:
                deadline = time.monotonic() + LIMIT_S
                got: dict[str, Any] = {}
                while time.monotonic() < deadline:
                    got = await ok(await dev.get(url))
                    if got["state"] in ("running", "failed"):
                        break
                    await asyncio.sleep(2)
                assert got["state"] == "running", (got, await ok(await dev.get(f"{url}/replicas")))
                answer = await ok(await dev.post(f"{url}/test", json={"prompt": "What does a gateway do?"}))
                assert answer["usage"]["completion_tokens"] >= 1 and isinstance(answer["answer"], str)
                status = await ok(await dev.get(f"{url}/status"))
                [replica] = status["replicas"]["details"]
                assert {
                    "vllm:num_requests_waiting",
                    "vllm:kv_cache_usage_perc",
                    "vllm:num_requests_running",
                } <= set(replica["engine"])
                await _through_the_gateway(app, t.tokens["developer"], body["name"])
                await ok(await dev.post(f"{url}/stop"))
            finally:
                await dev.delete(url)
