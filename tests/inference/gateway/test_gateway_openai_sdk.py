"""The gateway through the official openai SDK: chat, streaming, completions, embeddings, errors."""

from __future__ import annotations

import httpx
import openai
import pytest
from fastapi import FastAPI

from tests.conftest import client_for
from tests.inference.gateway.conftest import ServedTenant


def _sdk(app: FastAPI, token: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url="http://stic.test/v1",
        api_key=token,
        http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=app)),
        max_retries=0,
    )


async def test_chat_completion_with_usage(platform_app: FastAPI, served: ServedTenant) -> None:
    client = _sdk(platform_app, served.token())
    answer = await client.chat.completions.create(
        model=served.model, messages=[{"role": "user", "content": "Hello there"}], max_tokens=8
    )
    assert answer.model == served.model
    assert answer.choices[0].message.role == "assistant"
    assert answer.usage is not None and answer.usage.completion_tokens >= 1
    assert answer.usage.prompt_tokens >= 1


async def test_streaming_passes_chunks_and_reports_usage_only_when_asked(
    platform_app: FastAPI, served: ServedTenant
) -> None:
    client = _sdk(platform_app, served.token())
    stream = await client.chat.completions.create(
        model=served.model, messages=[{"role": "user", "content": "Tell me"}], max_tokens=8, stream=True
    )
    chunks = [chunk async for chunk in stream]
    assert chunks and all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")
    stream = await client.chat.completions.create(
        model=served.model,
        messages=[{"role": "user", "content": "Tell me"}],
        max_tokens=8,
        stream=True,
        stream_options={"include_usage": True},
    )
    with_usage = [chunk async for chunk in stream]
    assert with_usage[-1].usage is not None and with_usage[-1].usage.completion_tokens >= 1


async def test_completions_and_embeddings(platform_app: FastAPI, served: ServedTenant) -> None:
    client = _sdk(platform_app, served.token())
    completion = await client.completions.create(model=served.model, prompt="Once upon", max_tokens=4)
    assert completion.choices[0].text is not None
    embedding = await client.embeddings.create(model=served.model, input=["a", "b"])
    assert len(embedding.data) == 2 and len(embedding.data[0].embedding) > 0


async def test_models_lists_the_tenants_services_only(
    platform_app: FastAPI, served: ServedTenant, admin_client: httpx.AsyncClient
) -> None:
    client = _sdk(platform_app, served.token())
    models = [m.id async for m in client.models.list()]
    assert served.model in models
    from tests.services.builders import make_tenant

    other = await make_tenant(admin_client)
    other_models = [m.id async for m in _sdk(platform_app, other.tokens["developer"]).models.list()]
    assert served.model not in other_models


async def test_errors_come_in_the_openai_shape(
    platform_app: FastAPI, served: ServedTenant, admin_client: httpx.AsyncClient
) -> None:
    client = _sdk(platform_app, served.token())
    with pytest.raises(openai.NotFoundError) as missing:
        await client.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "x"}]
        )
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        await client.chat.completions.create(model=served.model, messages=[])
    assert bad.value.param == "messages"
    with pytest.raises(openai.AuthenticationError):
        await _sdk(platform_app, "stic_0000000000000000_wrong").chat.completions.create(
            model=served.model, messages=[{"role": "user", "content": "x"}]
        )
    from tests.services.builders import make_tenant

    other = await make_tenant(admin_client)
    with pytest.raises(openai.NotFoundError):  # another tenant's model does not exist for it
        await _sdk(platform_app, other.tokens["developer"]).chat.completions.create(
            model=served.model, messages=[{"role": "user", "content": "x"}]
        )
    async with client_for(platform_app, served.token("viewer")) as viewer:
        refused = await viewer.post(
            "/v1/chat/completions",
            json={"model": served.model, "messages": [{"role": "user", "content": "x"}]},
        )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
