"""Request and response bodies of the model-service API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, StringConstraints, model_validator

from inference.autoscaler.policy import AutoscalingPolicy
from scheduler.service.jobspec import AcceleratorsIn, NodeSelector
from services.kernel.types import FreeText, Name, ResourceId, ResponseModel, StrictModel

MAX_REPLICAS = 32
Engine = Literal["builtin", "vllm", "openai"]
Version = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
ModelName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$")]
Path_ = Annotated[str, StringConstraints(pattern=r"^/[^\x00-\x1f]{0,4095}$")]
Url = Annotated[str, StringConstraints(pattern=r"^https?://[^\s\x00-\x1f]{1,2040}$")]
UpstreamProtocol = Literal["http1", "h2c"]
EngineArg = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f]{1,200}$")]


class ResourcesIn(StrictModel):
    """Per replica: CPU in milli-cores, memory in MiB and accelerators (whole devices or a share)."""

    cpu_milli: Annotated[int, Field(ge=100, le=256_000)] = 1000
    memory_mib: Annotated[int, Field(ge=64, le=4_194_304)] = 2048
    accelerators: AcceleratorsIn | None = None


class UpstreamIn(StrictModel):
    """An external OpenAI-compatible API (``engine: openai``); ``url`` is its base ending in ``/v1``.

    ``api_key`` is sealed with the tenant's KMS key ``kms_key_id`` before it is stored.
    ``protocol`` is how the gateway calls it on the request path: ``http1`` (HTTP/1.1, one
    connection per request in flight; the default, what vLLM speaks) or ``h2c`` (HTTP/2 cleartext
    with prior knowledge: many requests and streams share a few connections). Only ``http://``
    URLs can be ``h2c``. Discovery and health checks use HTTP/1.1 either way.
    """

    url: Url
    model: ModelName
    api_key: SecretStr | None = None
    kms_key_id: ResourceId | None = None
    protocol: UpstreamProtocol = "http1"

    @model_validator(mode="after")
    def _h2c_is_cleartext(self) -> UpstreamIn:
        if self.protocol == "h2c" and not self.url.startswith("http://"):
            raise ValueError("protocol h2c is HTTP/2 cleartext: the url must start with http://")
        return self


class ScaleBounds(StrictModel):
    """Bounds for the autoscaler."""

    min_replicas: Annotated[int, Field(ge=1, le=MAX_REPLICAS)] = 1
    max_replicas: Annotated[int, Field(ge=1, le=MAX_REPLICAS)] = 1

    @model_validator(mode="after")
    def _ordered(self) -> ScaleBounds:
        if self.min_replicas > self.max_replicas:
            raise ValueError("min_replicas must not exceed max_replicas")
        return self


class AutoscalingIn(AutoscalingPolicy):
    """``PUT .../autoscaling``: a policy plus the replica bounds it moves within."""

    min_replicas: Annotated[int, Field(ge=1, le=MAX_REPLICAS)] = 1
    max_replicas: Annotated[int, Field(ge=1, le=MAX_REPLICAS)] = 4

    @model_validator(mode="after")
    def _ordered(self) -> AutoscalingIn:
        if self.min_replicas > self.max_replicas:
            raise ValueError("min_replicas must not exceed max_replicas")
        return self


class ModelServiceCreate(StrictModel):
    """A model service to deploy. ``model_dir`` for ``builtin``/``vllm``; ``upstream`` for ``openai``.

    ``engine_args`` are appended to the engine's command line (``--host``/``--port``/``--model`` and
    ``--served-model-name`` are set by the platform and refused here). ``start: false`` creates it stopped.
    ``node_selector`` pins every replica's job to nodes carrying those labels (Kubernetes
    ``nodeSelector``), e.g. ``{"stic.io/simulated": "false"}`` for real machines only.
    """

    name: Name
    project_id: ResourceId
    description: FreeText = ""
    version: Version = "1"
    engine: Engine
    model_dir: Path_ | None = None
    served_model_name: ModelName | None = None
    upstream: UpstreamIn | None = None
    resources: ResourcesIn = ResourcesIn()
    replicas: Annotated[int, Field(ge=0, le=MAX_REPLICAS)] = 1
    autoscaling: AutoscalingIn | None = None
    engine_args: Annotated[list[EngineArg], Field(max_length=32)] = Field(default_factory=list)
    node_selector: NodeSelector = Field(default_factory=dict)
    queue: Name = "default"
    start: bool = True


class ScaleIn(StrictModel):
    """Manual scaling: the number of replicas wanted (0 keeps the service but runs nothing)."""

    replicas: Annotated[int, Field(ge=0, le=MAX_REPLICAS)]


class TestIn(StrictModel):
    """``POST .../test``: one chat completion against one ready replica."""

    prompt: Annotated[str, StringConstraints(min_length=1, max_length=2000)] = "Hello"
    max_tokens: Annotated[int, Field(ge=1, le=256)] = 16


class ReplicaOut(ResponseModel):
    """One instance of a service."""

    id: str
    ordinal: int
    state: str
    job_id: str | None
    node: str | None
    port: int | None
    api_base: str
    health_url: str
    metrics_url: str | None
    simulated: bool
    attempt: int
    started_at: datetime | None
    ready_at: datetime | None
    last_error: str


class ModelServiceOut(BaseModel):
    """A model service: model information, engine (inference mode), resources, replicas and state."""

    id: str
    tenant_id: str
    project_id: str
    name: str
    description: str
    version: str
    engine: str
    served_model_name: str
    model: dict[str, Any]
    inference: dict[str, Any]
    resources: dict[str, Any]
    node_selector: dict[str, str] = Field(default_factory=dict)
    queue: str
    engine_args: list[str]
    replicas: dict[str, int]
    autoscaling: dict[str, Any] | None
    running: bool
    state: str
    simulated: bool
    last_error: str
    created_by: str
    created_at: datetime
    updated_at: datetime


class EventOut(ResponseModel):
    """Something that happened to a service."""

    id: str
    time: datetime
    kind: str
    message: str
    data: dict[str, Any]
