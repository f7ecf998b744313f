"""The content-safety service (6.4.2 b): rule packs, checks, human review, evaluation, masking.

On start-up it builds the :class:`~services.safety.runtime.SafetyRuntime` and stores the
platform's default pack (``STIC_SAFETY_DEFAULT_PACK``, the demonstration pack by default),
activating it globally unless an operator already activated another platform pack.
``STIC_SAFETY_SEMANTIC=minilm`` adds the embedding-similarity stage (all-MiniLM-L6-v2 on the
CPU; needs ``sentence-transformers``); tests inject any embedder as ``app.state.safety_embedder``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from security.safety.semantic import Embedder
from services.kernel.app import ServiceModule, create_service_app
from services.kernel.settings import REPO_ROOT, Settings
from services.safety.router import platform_router, router
from services.safety.runtime import SafetyRuntime
from services.safety.service import preload_default

DEMO_PACK = REPO_ROOT / "security" / "safety" / "packs" / "demo.yaml"


class SafetySettings(BaseSettings):
    """Tunables of the safety service (env prefix ``STIC_SAFETY_``)."""

    model_config = SettingsConfigDict(env_prefix="STIC_SAFETY_", env_file=".env", extra="ignore")

    default_pack: Path = Field(
        default=DEMO_PACK, description="platform pack stored and activated at start-up"
    )
    semantic: Literal["off", "minilm"] = Field(default="off", description="the semantic stage's embedder")
    pack_cache_size: int = Field(default=128, ge=1, le=10_000)


def _embedder(app: FastAPI, settings: SafetySettings) -> Embedder | None:
    injected: Embedder | None = getattr(app.state, "safety_embedder", None)
    if injected is not None or settings.semantic == "off":
        return injected
    from security.safety.semantic import MiniLMEmbedder

    return MiniLMEmbedder()


async def start_safety(app: FastAPI) -> None:
    """Build the runtime and store/activate the platform default pack."""
    settings: SafetySettings = getattr(app.state, "safety_settings", None) or SafetySettings()
    runtime = SafetyRuntime(
        audit=app.state.audit, embedder=_embedder(app, settings), cache_size=settings.pack_cache_size
    )
    async with app.state.database.sessionmaker() as session:
        await preload_default(session=session, runtime=runtime, path=settings.default_pack)
    app.state.safety = runtime


module = ServiceModule(
    name="safety",
    title="Content safety",
    description="rule packs, input/output checks (keywords, regex, PII, semantic), human review, evaluation",
    routers=[router, platform_router],
    on_startup=[start_safety],
)


def create_app(settings: Settings, safety_settings: SafetySettings | None = None) -> FastAPI:
    """The safety service alone; ``safety_settings`` overrides the ``STIC_SAFETY_*`` environment."""
    app = create_service_app(modules=[module], settings=settings)
    if safety_settings is not None:
        app.state.safety_settings = safety_settings
    return app
