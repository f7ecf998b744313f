"""Assessment probes for inference engines (6.3.1.3.1 e) and the unified inference API (6.3.3.1 j).

Both read ``GET /v1/inference/engines`` (what this deployment can run), serve the platform tenant's
model through each available local engine, and call every service through the same gateway
request (chat, then chat with streaming), comparing the OpenAI structure of the answers.

* ``inference.engines`` is verified only when at least two local engines really served the model,
  one of them an acceleration library (vLLM; its installed build decides the hardware). With only
  the builtin engine it fails and says which engines are missing and why.
* ``inference.unified-api`` serves the model on one local engine (a domestic-chip engine when one is
  available) and puts an ``openai``-adapter service in front of a platform replica.
  Identical answers across engines show the API hides engine differences; as no domestic chip (or
  domestic-chip engine build) is present here, hiding *chip* differences is reported ``simulated``
  unless an engine for such a chip served the model.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from inference.probes import REPLICA_CPU_MILLI, InferenceKit, _stream_text, replica_verdict
from services.assessment.probes.base import ProbeContext, ProbeFailure, ProbeResult

LOCAL_ENGINES = ("builtin", "vllm")
MEMORY_MIB = {"vllm": 3072}  # vLLM on CPU with its KV cache needs more than the tiny builtin engine
# Engines whose build targets a domestic chip; none is registered yet (vllm-ascend would be one).
DOMESTIC_CHIP_ENGINES: tuple[str, ...] = ()


def _shape(value: Any) -> Any:
    """The OpenAI structure of a chat answer: the type of each standard field."""
    if not isinstance(value, dict):
        return type(value).__name__
    choice = (value.get("choices") or [{}])[0]
    message = choice.get("message") or choice.get("delta") or {}
    return {
        "object": value.get("object"),
        "top": {k: type(value.get(k)).__name__ for k in ("id", "created", "model", "choices")},
        "choice": {k: k in choice for k in ("index", "finish_reason")},
        "message": {k: type(message.get(k)).__name__ for k in ("role", "content")},
        "usage": sorted(k for k in (value.get("usage") or {}) if k.endswith("_tokens")),
    }


def _stream_shape(response: httpx.Response) -> dict[str, Any]:
    chunks = [
        line.removeprefix("data: ")
        for line in response.text.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]
    parsed = [json.loads(c) for c in chunks]
    objects = sorted({str(c.get("object")) for c in parsed})
    return {"objects": objects, "done": response.text.rstrip().endswith("data: [DONE]")}


async def available_engines(ctx: ProbeContext, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    """``GET /v1/inference/engines`` by name."""
    listed = await ctx.get("/v1/inference/engines", authenticated=False, headers=headers)
    ctx.require(listed.status_code == 200, f"GET /v1/inference/engines answered {listed.status_code}")
    return {e["name"]: e for e in listed.json()["items"]}


async def serve_and_compare(
    ctx: ProbeContext, kit: InferenceKit, engines: list[str], *, adapter: bool
) -> dict[str, Any]:
    """Serve the platform model on each of ``engines`` (plus an openai adapter when ``adapter``), call
    each through the gateway (chat and stream), and return the structure seen per service; raises
    :class:`ProbeFailure` when a call fails or structures differ."""
    model_dir = await kit.model_dir()
    names: dict[str, str] = {}
    for engine in engines:
        name = f"uni-{engine}"
        service = await kit.create(
            {
                "name": name,
                "engine": engine,
                "model_dir": model_dir,
                "resources": {"cpu_milli": REPLICA_CPU_MILLI, "memory_mib": MEMORY_MIB.get(engine, 2048)},
            }
        )
        names[name] = service["id"]
    if adapter:
        await kit.openai_service("uni-openai", await kit.upstream())
    for name, sid in names.items():
        await kit.wait_ready(sid, replicas=1)
        await kit.wait_routable(name)
    shapes: dict[str, Any] = {}
    for name in [*names, *(["uni-openai"] if adapter else [])]:
        answer = await kit.chat(name)
        ctx.require(answer.status_code == 200, f"chat with {name} answered {answer.status_code}")
        streamed = await kit.chat(name, stream=True)
        _, events, finish = _stream_text(streamed)
        ctx.require(
            streamed.status_code == 200 and events >= 1 and finish is not None,
            f"streaming from {name} failed ({streamed.status_code}, {events} content events)",
        )
        shapes[name] = {"chat": _shape(answer.json()), "stream": _stream_shape(streamed)}
    for name, sid in names.items():
        placed = await kit.ready_replicas(sid)
        shapes[name]["simulated"] = any(r.get("simulated") for r in placed)
    reference_name, reference = next(iter(shapes.items()))
    for name, shape in shapes.items():
        if {**shape, "simulated": None} != {**reference, "simulated": None}:
            raise ProbeFailure(
                f"{name} answers in another structure than {reference_name}: {shape} vs {reference}"
            )
    ctx.note("one API across engines", services=list(shapes), structure=reference)
    return shapes


class InferenceEnginesProbe:
    """Several inference engines / acceleration libraries deployable, including hardware-adapted ones."""

    name = "inference.engines"
    clause_ids = ("6.3.1.3.1.e",)

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        async with InferenceKit(ctx, "engines") as kit:
            engines = await available_engines(ctx, kit.developer())
            ctx.note("engines", engines=list(engines.values()))
            local = [n for n in LOCAL_ENGINES if engines.get(n, {}).get("available")]
            accelerated = [n for n in local if engines[n]["kind"] == "acceleration-library"]
            if len(local) < 2 or not accelerated:
                missing = {
                    n: engines.get(n, {}).get("reason") or "not registered"
                    for n in LOCAL_ENGINES
                    if n not in local
                }
                raise ProbeFailure(
                    f"only {local} can serve models in this deployment; no hardware-adapted acceleration "
                    f"library is installed: {missing}"
                )
            shapes = await serve_and_compare(ctx, kit, local, adapter=False)
            message = (
                f"the same model served by {', '.join(local)} (acceleration library: "
                f"{', '.join(accelerated)}) and answered chat and streaming in one structure"
            )
            return replica_verdict(ctx, any(shape.get("simulated") for shape in shapes.values()), message)


class UnifiedInferenceApiProbe:
    """One inference API over every engine (and so over the chips the engines adapt to)."""

    name = "inference.unified-api"
    clause_ids = ("6.3.3.1.j",)

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        async with InferenceKit(ctx, "uniapi") as kit:
            engines = await available_engines(ctx, kit.developer())
            local = [n for n in LOCAL_ENGINES if engines.get(n, {}).get("available")]
            ctx.require(bool(local), f"no local engine is available: {engines}")
            # one local engine behind the adapter shows the one API; inference.engines starts the others
            local = [n for n in local if n in DOMESTIC_CHIP_ENGINES] or local[:1]
            shapes = await serve_and_compare(ctx, kit, local, adapter=True)
            served = ", ".join(shapes)
            chips = [n for n in local if n in DOMESTIC_CHIP_ENGINES]
            if chips:
                return ctx.verified(f"one OpenAI API over {served}, including domestic-chip engines {chips}")
            return ctx.simulated(
                f"one OpenAI API (chat and streaming, same structure) over {served}; no domestic chip or "
                "domestic-chip engine build is present here, so hiding chip differences is shown only "
                "across the CPU engines and the adapter"
            )


PROBES = (InferenceEnginesProbe(), UnifiedInferenceApiProbe())
