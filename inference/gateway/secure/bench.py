"""Micro-benchmark of the envelope layer, called by ``stic bench gateway``.

Measures CPU time of the cryptography alone (no network), with the same code paths the
middleware and the client transports run: seal + open of a request body, of a response body,
of one SSE chunk, and one full SM2 handshake (both ends).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from inference.gateway.secure.envelope import Binding, Direction, Envelope, SessionCipher
from inference.gateway.secure.handshake import ClientHandshake, respond
from inference.gateway.secure.keys import GatewayKeyPair
from security.crypto import SM2PublicKey
from security.crypto.sm2.backends.registry import default_backend

_PATH = "/v1/chat/completions"


def _typical_body(size: int) -> bytes:
    filler = "The gateway encrypts this prompt end to end. "
    base = len(_chat_body("").encode())
    return _chat_body((filler * (size // len(filler) + 1))[: max(size - base, 0)]).encode()


def _chat_body(content: str) -> str:
    return json.dumps({"model": "tiny", "messages": [{"role": "user", "content": content}], "max_tokens": 64})


def _typical_chunk() -> bytes:
    delta = {
        "id": "chatcmpl-0123456789abcdef",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "tiny",
        "choices": [{"index": 0, "delta": {"content": " token"}, "finish_reason": None}],
    }
    return b"data: " + json.dumps(delta).encode()


def _median_us(operation: Callable[[int], None], iterations: int) -> float:
    samples: list[float] = []
    for i in range(iterations):
        started = time.perf_counter_ns()
        operation(i)
        samples.append((time.perf_counter_ns() - started) / 1000)
    return statistics.median(samples)


def measure_overhead(
    *, body_bytes: int = 1024, iterations: int = 2000, handshakes: int = 20
) -> dict[str, Any]:
    """Per-operation cost of the encryption, in microseconds (medians over ``iterations``).

    Returns ``{"request_body_us", "response_body_us", "per_request_us", "per_chunk_us",
    "handshake_ms", "body_bytes", "chunk_bytes", "iterations", "sm2_backend"}`` where each
    ``*_us`` is seal + JSON encode + JSON parse + open, and ``per_request_us`` is the sum of a
    request and a response body of ``body_bytes`` (what one non-streamed call adds, both ends).
    """
    if body_bytes < 1 or iterations < 1 or handshakes < 1:
        raise ValueError("body_bytes, iterations and handshakes must be positive")
    cipher = SessionCipher(
        session_id="sess_bench", client_to_server=b"\x01" * 16, server_to_client=b"\x02" * 16
    )
    body = _typical_body(body_bytes)
    chunk = _typical_chunk()

    def roundtrip(
        direction: Direction, payload: bytes, *, status: int | None, chunk_index: bool
    ) -> Callable[[int], None]:
        def run(i: int) -> None:
            binding = Binding("POST", _PATH, "sess_bench", i + 1, status, i if chunk_index else None)
            wire = cipher.seal(direction, binding, payload).to_json()
            assert cipher.open(direction, binding, Envelope.from_json(wire)) == payload

        return run

    request_us = _median_us(roundtrip(Direction.REQUEST, body, status=None, chunk_index=False), iterations)
    response_us = _median_us(roundtrip(Direction.RESPONSE, body, status=200, chunk_index=False), iterations)
    chunk_us = _median_us(roundtrip(Direction.RESPONSE, chunk, status=200, chunk_index=True), iterations)

    keys = GatewayKeyPair.generate()

    def handshake(_: int) -> None:
        client = ClientHandshake(server_public=keys.public_key, server_uid=keys.uid)
        answer = respond(
            keys,
            client_public=SM2PublicKey.from_bytes(client.client_public),
            client_ephemeral=client.client_ephemeral,
            client_uid=client.client_uid,
        )
        derived = client.complete(server_ephemeral=answer.server_ephemeral, confirmation=answer.confirmation)
        assert derived == answer.keys

    handshake_us = _median_us(handshake, handshakes)
    return {
        "request_body_us": round(request_us, 2),
        "response_body_us": round(response_us, 2),
        "per_request_us": round(request_us + response_us, 2),
        "per_chunk_us": round(chunk_us, 2),
        "handshake_ms": round(handshake_us / 1000, 3),
        "body_bytes": len(body),
        "chunk_bytes": len(chunk),
        "iterations": iterations,
        "sm2_backend": default_backend().name,
    }
