"""Tunables of the model-service controller, read from ``STIC_MODELSERVICE_*`` variables.

Tests and embedders may put a :class:`ModelServiceOptions` on ``app.state.modelservice_options``
before the app starts; the module uses it instead of the environment.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ModelServiceOptions(BaseSettings):
    """How often the controller reconciles and probes, and how replicas bind."""

    model_config = SettingsConfigDict(env_prefix="STIC_MODELSERVICE_", extra="ignore")

    enabled: bool = Field(default=True, description="run the controller and autoscaler in this process")
    tick_s: float = Field(default=1.0, gt=0, le=60, description="reconcile and health-check period")
    health_timeout_s: float = Field(default=2.0, gt=0, le=60)
    unhealthy_after: int = Field(default=2, ge=1, description="failed probes before unhealthy")
    bind_host: str = Field(default="127.0.0.1", description="address local replicas listen on")
    replica_max_retries: int = Field(default=100, ge=0, le=100, description="scheduler restarts per replica")
    autoscaler_tick_s: float = Field(default=5.0, gt=0, le=600, description="how often policies are checked")
    model_roots: list[Path] = Field(
        default_factory=list,
        description="folders local model directories must lie under (empty: anywhere on the host)",
    )
    test_timeout_s: float = Field(default=60.0, gt=0, le=600, description="POST /test request timeout")
