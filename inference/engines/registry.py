"""The explicit list of engines. Add an engine here; ``tests/inference/engines`` checks its protocol."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from inference.engines.base import Engine
from inference.engines.builtin.engine import BuiltinEngine
from inference.engines.errors import UnknownEngineError
from inference.engines.openai_compat import OpenAICompatEngine
from inference.engines.vllm_engine import VLLMEngine

ENGINES: Mapping[str, Callable[[], Engine]] = MappingProxyType(
    {
        "vllm": VLLMEngine,
        "builtin": BuiltinEngine,
        "openai": OpenAICompatEngine,
    }
)


def engine_names() -> list[str]:
    """Registered engine names, sorted."""
    return sorted(ENGINES)


def get_engine(name: str) -> Engine:
    """A new instance of the engine called ``name``; raises :class:`UnknownEngineError` otherwise."""
    try:
        factory = ENGINES[name]
    except KeyError:
        raise UnknownEngineError(
            f"unknown engine {name!r}; known engines: {', '.join(engine_names())}"
        ) from None
    return factory()
