"""The builtin engine, run as a real process, answers through the official ``openai`` SDK."""

from __future__ import annotations

import math

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from prometheus_client.parser import text_string_to_metric_families

from inference.engines.base import Replica

CHAT: list[ChatCompletionMessageParam] = [{"role": "user", "content": "What does a gateway do?"}]


@pytest.fixture(scope="module")
def client(builtin_replica: Replica) -> openai.OpenAI:
    return openai.OpenAI(base_url=builtin_replica.api_base, api_key="unused", max_retries=0)


def test_models_lists_the_served_name(client: openai.OpenAI, builtin_replica: Replica) -> None:
    assert [m.id for m in client.models.list()] == [builtin_replica.served_model_name]


def test_chat_completion_has_text_and_consistent_usage(
    client: openai.OpenAI, builtin_replica: Replica
) -> None:
    answer = client.chat.completions.create(
        model=builtin_replica.served_model_name,
        messages=CHAT,
        temperature=0,
        max_tokens=12,
    )
    choice = answer.choices[0]
    assert choice.message.role == "assistant"
    assert isinstance(choice.message.content, str)
    assert choice.finish_reason in {"stop", "length"}
    assert answer.usage is not None
    assert answer.usage.prompt_tokens > 0
    assert 1 <= answer.usage.completion_tokens <= 12
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens


def test_chat_streaming_arrives_chunk_by_chunk_and_matches_the_whole_answer(
    client: openai.OpenAI, builtin_replica: Replica
) -> None:
    kwargs = {
        "model": builtin_replica.served_model_name,
        "messages": CHAT,
        "temperature": 0,
        "max_tokens": 16,
    }
    whole = client.chat.completions.create(**kwargs)  # type: ignore[call-overload]
    chunks = list(
        client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True})  # type: ignore[call-overload]
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 1, "a streamed answer must come in several chunks"
    assert "".join(pieces) == whole.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [whole.choices[0].finish_reason]
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None
    assert usage_chunk.usage.completion_tokens == whole.usage.completion_tokens
    assert all(c.usage is None for c in chunks[:-1])


def test_completions_plain_and_streamed_agree(client: openai.OpenAI, builtin_replica: Replica) -> None:
    kwargs = {
        "model": builtin_replica.served_model_name,
        "prompt": "A scheduler",
        "temperature": 0,
        "max_tokens": 8,
    }
    whole = client.completions.create(**kwargs)  # type: ignore[call-overload]
    streamed = list(client.completions.create(**kwargs, stream=True))  # type: ignore[call-overload]
    assert "".join(c.choices[0].text for c in streamed) == whole.choices[0].text
    assert whole.usage is not None
    assert whole.usage.completion_tokens <= 8


def test_embeddings_are_normalised_and_deterministic(client: openai.OpenAI, builtin_replica: Replica) -> None:
    model = builtin_replica.served_model_name
    texts = ["cloud storage", "云平台", "cloud storage"]
    as_base64 = client.embeddings.create(model=model, input=texts)  # the SDK asks for base64 by default
    as_float = client.embeddings.create(model=model, input=texts, encoding_format="float")
    vectors = [d.embedding for d in as_float.data]
    assert [len(v) for v in vectors] == [128, 128, 128]
    assert all(math.isclose(math.hypot(*v), 1.0, rel_tol=1e-4) for v in vectors)
    assert vectors[0] == vectors[2]
    assert vectors[0] != vectors[1]
    for a, b in zip(as_base64.data, as_float.data, strict=True):
        assert a.embedding == pytest.approx(b.embedding, abs=1e-6)
    assert as_float.usage.prompt_tokens == as_float.usage.total_tokens > 0


@pytest.mark.parametrize(
    ("kwargs", "error", "code", "param"),
    [
        ({"model": "no-such-model"}, openai.NotFoundError, "model_not_found", "model"),
        ({"logprobs": True}, openai.BadRequestError, None, "logprobs"),
        (
            {"messages": [{"role": "user", "content": "云" * 600}]},
            openai.BadRequestError,
            "context_length_exceeded",
            "messages",
        ),
        ({"max_tokens": 0}, openai.BadRequestError, None, "max_tokens"),
    ],
    ids=["unknown-model", "unsupported-param", "context-too-long", "bad-max-tokens"],
)
def test_errors_come_in_the_openai_shape(
    client: openai.OpenAI,
    builtin_replica: Replica,
    kwargs: dict[str, object],
    error: type[openai.APIStatusError],
    code: str | None,
    param: str,
) -> None:
    request = {"model": builtin_replica.served_model_name, "messages": CHAT, "max_tokens": 4} | kwargs
    with pytest.raises(error) as caught:
        client.chat.completions.create(**request)  # type: ignore[call-overload]
    body = caught.value.body
    assert isinstance(body, dict)
    assert set(body) == {"message", "type", "param", "code"}  # the SDK unwraps {"error": {...}}
    assert body["code"] == code
    assert body["param"] == param
    assert body["type"] == "invalid_request_error"


def test_metrics_expose_vllm_compatible_names(client: openai.OpenAI, builtin_replica: Replica) -> None:
    client.chat.completions.create(model=builtin_replica.served_model_name, messages=CHAT, max_tokens=3)
    assert builtin_replica.metrics_url is not None
    text = httpx.get(builtin_replica.metrics_url).text
    samples = {
        s.name: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.labels.get("model_name") == builtin_replica.served_model_name and "le" not in s.labels
    }
    for name in ("vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc"):
        assert samples[name] == 0
    assert samples["vllm:prompt_tokens_total"] > 0
    assert samples["vllm:generation_tokens_total"] > 0
    assert samples["vllm:time_to_first_token_seconds_count"] >= 1
    assert samples["vllm:e2e_request_latency_seconds_count"] >= 1
