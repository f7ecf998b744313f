"""Gateway settings (env prefix ``STIC_GATEWAY_``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    """How the gateway routes, limits, checks and logs.

    ``upstream_client`` picks the HTTP client of the request path (``STIC_GATEWAY_UPSTREAM_CLIENT``);
    health checks and management calls always use httpx.
    """

    model_config = SettingsConfigDict(env_prefix="STIC_GATEWAY_", env_file=".env", extra="ignore")

    routing_policy: Literal[
        "least-outstanding", "power-of-two", "prefix-affinity", "session-affinity", "weighted"
    ] = "least-outstanding"
    refresh_seconds: float = Field(default=1.0, gt=0, description="routing table reload interval")
    health_interval_seconds: float = Field(default=5.0, gt=0, description="active /health checks")
    max_attempts: int = Field(default=3, ge=1, le=10, description="replicas tried before the first byte")
    safety: bool = Field(default=True, description="content-safety checks on prompts and outputs")
    safety_stream_step: int = Field(
        default=16,
        ge=1,
        le=4096,
        description="characters a streamed output gathers between two safety checks (1: every chunk); "
        "released text arrives in pieces of about this size, each check costs one scan",
    )
    principal_cache_seconds: float = Field(default=2.0, ge=0, description="API-key resolution cache")
    upstream_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    upstream_read_timeout_seconds: float = Field(default=300.0, gt=0)
    max_connections: int = Field(
        default=16_384, ge=1, description="upstream requests in flight at once (each open stream holds one)"
    )
    upstream_client: Literal["native", "httpx"] = Field(
        default="native",
        description="client for plain-http:// replicas on the request path: 'native' (asyncio + httptools "
        "keep-alive HTTP/1.1, see inference.gateway.upstream) or 'httpx'; https:// replicas always use httpx",
    )
