"""The serving pipeline of the builtin engine: check model → tokenize → generate → shape the answer.

HTTP lives in ``app.py``; this module returns plain dicts and SSE strings and raises
:class:`~inference.engines.builtin.errors.OpenAIError`.
"""

from __future__ import annotations

import base64
import json
import logging
import struct
import threading
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from inference.engines.builtin.errors import OpenAIError, model_not_found, openai_error_body
from inference.engines.builtin.metrics import EngineMetrics
from inference.engines.builtin.protocol import ChatCompletionRequest, CompletionRequest, EmbeddingRequest
from inference.engines.builtin.runtime import GenerationStep, TextGenerator
from inference.engines.builtin.sampling import SamplingParams
from inference.engines.builtin.worker import GenerationWorker

DONE_EVENT = "data: [DONE]\n\n"
logger = logging.getLogger(__name__)


def sse(payload: dict[str, Any]) -> str:
    """One SSE event carrying ``payload`` as JSON."""
    return f"data: {json.dumps(payload, ensure_ascii=False, separators=(',', ':'))}\n\n"


def stream_error_event(exc: Exception) -> str:
    """The SSE event reporting ``exc`` after a stream has started (status 200 is already sent)."""
    if isinstance(exc, OpenAIError):
        return sse(exc.body())
    logger.exception("generation failed mid-stream")
    return sse(
        openai_error_body(f"internal error: {type(exc).__name__}", error_type="server_error", code=500)
    )


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


@dataclass
class _Tracker:
    """Timing and token counts of one generation, reported to the metrics when it ends."""

    metrics: EngineMetrics
    prompt_tokens: int
    arrived: float = field(default_factory=time.perf_counter)
    completion_tokens: int = 0
    first_token_seen: bool = False

    def step(self, step: GenerationStep) -> None:
        if step.tokens and not self.first_token_seen:
            self.first_token_seen = True
            self.metrics.time_to_first_token.observe(time.perf_counter() - self.arrived)
        self.completion_tokens += step.tokens
        self.metrics.generation_tokens.inc(step.tokens)

    def finish(self, reason: str) -> None:
        self.metrics.e2e_latency.observe(time.perf_counter() - self.arrived)
        self.metrics.record_success(reason)


class BuiltinServer:
    """Serves one model under ``served_model_name`` through the OpenAI request/response shapes."""

    def __init__(self, *, generator: TextGenerator, served_model_name: str, worker: GenerationWorker) -> None:
        self.generator = generator
        self.served_model_name = served_model_name
        self.worker = worker
        self.metrics = EngineMetrics(
            model_name=served_model_name, running=lambda: worker.running, waiting=lambda: worker.waiting
        )
        self.created = int(time.time())

    # -- shared steps -------------------------------------------------------------------------

    def check_model(self, model: str) -> None:
        """Raise 404 unless ``model`` is the served name."""
        if model != self.served_model_name:
            raise model_not_found(model)

    def models(self) -> dict[str, Any]:
        """The ``/v1/models`` list."""
        return {
            "object": "list",
            "data": [
                {
                    "id": self.served_model_name,
                    "object": "model",
                    "created": self.created,
                    "owned_by": "stic",
                    "max_model_len": self.generator.max_model_len,
                }
            ],
        }

    def _params(
        self,
        request: ChatCompletionRequest | CompletionRequest,
        *,
        prompt_len: int,
        requested: int | None,
        param: str,
    ) -> SamplingParams:
        limit = self.generator.max_model_len
        if prompt_len >= limit:
            raise OpenAIError(
                f"This model's maximum context length is {limit} tokens. However, your request has "
                f"{prompt_len} input tokens. Please reduce the length of the input.",
                param=param,
                code="context_length_exceeded",
            )
        if requested is not None and prompt_len + requested > limit:
            raise OpenAIError(
                f"This model's maximum context length is {limit} tokens. However, you requested "
                f"{prompt_len + requested} tokens ({prompt_len} in the input, {requested} for the "
                "completion). Please reduce the length of the input or the completion.",
                param="max_tokens",
                code="context_length_exceeded",
            )
        return SamplingParams(
            max_tokens=requested if requested is not None else limit - prompt_len,
            temperature=request.temperature,
            top_p=request.top_p,
            top_k=request.top_k,
            seed=request.seed,
            stop=request.stop_tuple(),
        )

    async def _stream_steps(
        self, prompt_ids: list[int], params: SamplingParams, tracker: _Tracker
    ) -> AsyncGenerator[GenerationStep, None]:
        def produce(cancel: threading.Event) -> Iterator[GenerationStep]:
            return self.generator.generate(prompt_ids, params, cancel)

        steps = await self.worker.stream(produce)
        self.metrics.prompt_tokens.inc(len(prompt_ids))
        return self._tracked(steps, tracker)

    @staticmethod
    async def _tracked(
        steps: AsyncGenerator[GenerationStep, None], tracker: _Tracker
    ) -> AsyncGenerator[GenerationStep, None]:
        # aclosing: a consumer that stops early closes the worker stream now, which cancels generation.
        async with aclosing(steps):
            async for step in steps:
                tracker.step(step)
                if step.finish_reason is not None:
                    tracker.finish(step.finish_reason)
                yield step

    async def _run(self, prompt_ids: list[int], params: SamplingParams) -> tuple[str, str, int]:
        tracker = _Tracker(self.metrics, len(prompt_ids))
        parts: list[str] = []
        reason = "length"
        steps = await self._stream_steps(prompt_ids, params, tracker)
        async with aclosing(steps):
            async for step in steps:
                parts.append(step.text)
                reason = step.finish_reason or reason
        return "".join(parts), reason, tracker.completion_tokens

    # -- chat ---------------------------------------------------------------------------------

    def _chat_prompt(self, request: ChatCompletionRequest) -> tuple[list[int], SamplingParams]:
        self.check_model(request.model)
        messages = [
            {"role": "system" if m.role == "developer" else m.role, "content": m.text()}
            for m in request.messages
        ]
        prompt_ids = self.generator.encode_chat(messages)
        params = self._params(
            request, prompt_len=len(prompt_ids), requested=request.requested_max_tokens(), param="messages"
        )
        return prompt_ids, params

    async def chat(self, request: ChatCompletionRequest) -> dict[str, Any]:
        """A complete ``chat.completion`` object."""
        prompt_ids, params = self._chat_prompt(request)
        text, reason, completion_tokens = await self._run(prompt_ids, params)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.served_model_name,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "logprobs": None,
                    "finish_reason": reason,
                }
            ],
            "usage": _usage(len(prompt_ids), completion_tokens),
        }

    async def chat_stream(self, request: ChatCompletionRequest) -> AsyncIterator[str]:
        """SSE events of ``chat.completion.chunk`` objects, then ``[DONE]``.

        Validation and admission happen before this returns, so errors there become a normal HTTP
        error; an error during generation becomes an error event followed by ``[DONE]``.
        """
        prompt_ids, params = self._chat_prompt(request)
        tracker = _Tracker(self.metrics, len(prompt_ids))
        steps = await self._stream_steps(prompt_ids, params, tracker)
        base = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.served_model_name,
        }
        usage_field = {"usage": None} if request.include_usage else {}

        def chunk(delta: dict[str, str], reason: str | None) -> str:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
            return sse({**base, "choices": [choice], **usage_field})

        async def events() -> AsyncIterator[str]:
            yield chunk({"role": "assistant", "content": ""}, None)
            try:
                async with aclosing(steps):
                    async for step in steps:
                        if step.text:
                            yield chunk({"content": step.text}, None)
                        if step.finish_reason is not None:
                            yield chunk({}, step.finish_reason)
            except Exception as exc:
                yield stream_error_event(exc)
            if request.include_usage:
                yield sse(
                    {**base, "choices": [], "usage": _usage(len(prompt_ids), tracker.completion_tokens)}
                )
            yield DONE_EVENT

        return events()

    # -- completions --------------------------------------------------------------------------

    def _completion_prompts(self, request: CompletionRequest) -> list[list[int]]:
        self.check_model(request.model)
        prompt = request.prompt
        if isinstance(prompt, str):
            return [self.generator.encode_prompt(prompt)]
        if not prompt:
            raise OpenAIError("prompt must not be empty", param="prompt")
        if all(isinstance(p, int) for p in prompt):
            return [[int(p) for p in prompt]]  # type: ignore[arg-type]
        if all(isinstance(p, str) for p in prompt):
            return [self.generator.encode_prompt(str(p)) for p in prompt]
        return [list(p) for p in prompt]  # type: ignore[arg-type]

    async def completion(self, request: CompletionRequest) -> dict[str, Any]:
        """A complete ``text_completion`` object, one choice per prompt."""
        prompts = self._completion_prompts(request)
        plans = [
            self._params(request, prompt_len=len(p), requested=request.max_tokens, param="prompt")
            for p in prompts
        ]
        choices: list[dict[str, Any]] = []
        prompt_total = completion_total = 0
        for index, (prompt_ids, params) in enumerate(zip(prompts, plans, strict=True)):
            text, reason, completion_tokens = await self._run(prompt_ids, params)
            choices.append({"index": index, "text": text, "logprobs": None, "finish_reason": reason})
            prompt_total += len(prompt_ids)
            completion_total += completion_tokens
        return {
            "id": f"cmpl-{uuid.uuid4().hex}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": self.served_model_name,
            "choices": choices,
            "usage": _usage(prompt_total, completion_total),
        }

    async def completion_stream(self, request: CompletionRequest) -> AsyncIterator[str]:
        """SSE events of ``text_completion`` chunks (prompts one after another), then ``[DONE]``."""
        prompts = self._completion_prompts(request)
        plans = [
            self._params(request, prompt_len=len(p), requested=request.max_tokens, param="prompt")
            for p in prompts
        ]
        trackers = [_Tracker(self.metrics, len(p)) for p in prompts]
        first = await self._stream_steps(prompts[0], plans[0], trackers[0])
        base = {
            "id": f"cmpl-{uuid.uuid4().hex}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": self.served_model_name,
        }
        usage_field = {"usage": None} if request.include_usage else {}

        async def events() -> AsyncIterator[str]:
            try:
                for index in range(len(prompts)):
                    steps = (
                        first
                        if index == 0
                        else await self._stream_steps(prompts[index], plans[index], trackers[index])
                    )
                    async with aclosing(steps):
                        async for step in steps:
                            if step.text or step.finish_reason:
                                choice = {
                                    "index": index,
                                    "text": step.text,
                                    "logprobs": None,
                                    "finish_reason": step.finish_reason,
                                }
                                yield sse({**base, "choices": [choice], **usage_field})
            except Exception as exc:
                yield stream_error_event(exc)
            if request.include_usage:
                usage = _usage(sum(len(p) for p in prompts), sum(t.completion_tokens for t in trackers))
                yield sse({**base, "choices": [], "usage": usage})
            yield DONE_EVENT

        return events()

    # -- embeddings ---------------------------------------------------------------------------

    async def embeddings(self, request: EmbeddingRequest) -> dict[str, Any]:
        """An embeddings ``list``: mean-pooled, L2-normalised last hidden states of the model."""
        self.check_model(request.model)
        if request.dimensions is not None and request.dimensions != self.generator.hidden_size:
            raise OpenAIError(
                f"dimensions must be {self.generator.hidden_size} (this model's hidden size) or omitted",
                param="dimensions",
            )
        raw = request.input
        if isinstance(raw, str):
            inputs = [self.generator.encode_prompt(raw)]
        elif raw and all(isinstance(x, int) for x in raw):
            inputs = [[int(x) for x in raw]]  # type: ignore[arg-type]
        elif raw and all(isinstance(x, str) for x in raw):
            inputs = [self.generator.encode_prompt(str(x)) for x in raw]
        elif raw:
            inputs = [list(x) for x in raw]  # type: ignore[arg-type]
        else:
            raise OpenAIError("input must not be empty", param="input")
        for ids in inputs:
            if not ids or len(ids) > self.generator.max_model_len:
                raise OpenAIError(
                    f"each input must have 1 to {self.generator.max_model_len} tokens, got {len(ids)}",
                    param="input",
                )
        vectors = await self.worker.call(lambda: self.generator.embed(inputs))
        prompt_tokens = sum(len(ids) for ids in inputs)
        self.metrics.prompt_tokens.inc(prompt_tokens)
        return {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": _encode(v, request.encoding_format)}
                for i, v in enumerate(vectors)
            ],
            "model": self.served_model_name,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
        }


def _encode(vector: Sequence[float], encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return list(vector)
