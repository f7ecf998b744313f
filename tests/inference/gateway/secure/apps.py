"""Small apps the secure-channel tests run behind the middleware."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from inference.engines.builtin.runtime import GenerationStep
from inference.engines.builtin.sampling import SamplingParams


def echo_app(*, events: int = 3) -> FastAPI:
    """A FastAPI app serving :func:`echo_router`."""
    app = FastAPI()
    app.state.seen = []
    app.include_router(echo_router(events=events))
    return app


def echo_router(*, events: int = 3) -> APIRouter:
    """OpenAI-shaped echo: JSON bodies come back under ``echo``; ``"stream": true`` streams ``events``
    events then ``[DONE]``; ``"fail": true`` answers 400 in the OpenAI error shape. While
    ``app.state.gate`` (an asyncio.Event) is set to an unset event, the stream pauses after its
    first event; ``app.state.seen`` records the bodies and content types the app received.
    """
    router = APIRouter()

    async def handle(request: Request) -> Any:
        state = request.app.state
        body = await request.json()
        if not hasattr(state, "seen"):
            state.seen = []
        state.seen.append((request.headers.get("content-type"), body))
        if body.get("fail"):
            error = {
                "message": "scripted failure",
                "type": "invalid_request_error",
                "param": "fail",
                "code": None,
            }
            return JSONResponse({"error": error}, status_code=400)
        if not body.get("stream"):
            return {"echo": body, "path": request.url.path}

        async def stream() -> AsyncIterator[bytes]:
            for index in range(events):
                yield f"data: {json.dumps({'index': index, 'echo': body})}\n\n".encode()
                gate: asyncio.Event | None = getattr(state, "gate", None)
                if index == 0 and gate is not None:
                    await gate.wait()
            yield b"data: [DONE]\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")

    router.add_api_route("/v1/chat/completions", handle, methods=["POST"])
    router.add_api_route("/v1/embeddings", handle, methods=["POST"])

    @router.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": []}

    return router


@dataclass
class EchoGenerator:
    """A :class:`TextGenerator` whose answer is its own prompt, one character per token.

    Deterministic and input-dependent, so an encrypted run must equal a plain run exactly and a
    body that did not reach the engine intact would show. ``gate``, when set, is waited on after
    the first token (to prove streaming is not buffered).
    """

    max_model_len: int = 512
    hidden_size: int = 4
    gate: threading.Event | None = None
    prompts: list[str] = field(default_factory=list)
    produced: int = 0

    def encode_prompt(self, text: str) -> list[int]:
        self.prompts.append(text)
        return [ord(c) for c in text]

    def encode_chat(self, messages: Sequence[Mapping[str, str]]) -> list[int]:
        return self.encode_prompt(" ".join(m["content"] for m in messages))

    def generate(
        self, prompt_ids: Sequence[int], params: SamplingParams, cancel: threading.Event
    ) -> Iterator[GenerationStep]:
        pieces = [chr(i) for i in prompt_ids][: params.max_tokens]
        for index, piece in enumerate(pieces):
            if cancel.is_set():
                return
            last = index == len(pieces) - 1
            self.produced += 1
            yield GenerationStep(piece, 1, ("length" if last else None))
            if index == 0 and self.gate is not None:
                self.gate.wait(timeout=30)

    def embed(self, inputs: Sequence[Sequence[int]]) -> list[list[float]]:
        return [[float(len(ids)), float(sum(ids) % 97), 0.0, 1.0] for ids in inputs]
