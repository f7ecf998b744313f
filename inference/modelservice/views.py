"""Read models of a service for the API: model info, interface info, status, and the test call.

* model info (6.3.1.3 b): the model source, engine (inference mode), resources, replicas, state;
* interface info (6.3.1.3 c): the OpenAI endpoints on the gateway, request examples, versions of
  the same model in the tenant, instances;
* status (6.3.1.3 d, 6.3.3.1 c): running state, replicas by state, call volume / success rate /
  latency from the gateway's request log, and per replica CPU, memory, I/O counters, engine and
  accelerator metrics;
* test (6.3.1.3 a): one chat completion sent straight to a ready replica, answer and latency.
"""

from __future__ import annotations

import importlib
import time
from collections import Counter
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from inference.autoscaler.metrics import parse_engine_metrics
from inference.engines.errors import EngineUnavailableError
from inference.engines.http_client import OpenAIHTTPClient
from inference.modelservice import schemas
from inference.modelservice.directory import SecretOpener
from inference.modelservice.models import ModelReplica, ModelService
from inference.modelservice.service import ready_replicas
from scheduler.executors.base import Executor, TaskKey
from scheduler.service.models import TaskRow
from services.kernel.errors import Conflict, STICError
from services.kernel.tenancy import scoped

GATEWAY_ENDPOINTS = (
    {"method": "POST", "path": "/v1/chat/completions", "operation": "chat.completions", "stream": True},
    {"method": "POST", "path": "/v1/completions", "operation": "completions", "stream": True},
    {"method": "POST", "path": "/v1/embeddings", "operation": "embeddings", "stream": False},
    {"method": "GET", "path": "/v1/models", "operation": "models", "stream": False},
)
ENGINE_MODES = {
    "builtin": "online; STIC builtin transformers engine (CPU), OpenAI-compatible HTTP with SSE streaming",
    "vllm": "online; vLLM OpenAI server (continuous batching, paged KV cache), SSE streaming",
    "openai": "online; external OpenAI-compatible upstream behind the gateway",
}


# Per-replica I/O counters of the replica's process, in bytes (``/proc/<pid>/io`` for local replicas):
# rchar / wchar count every read and write (sockets included), read_bytes / write_bytes storage only.
IO_COUNTERS = ("rchar", "wchar", "read_bytes", "write_bytes")
ACCELERATOR_METRICS = ("accelerator_memory_utilization", "accelerator_utilization", "accelerator_simulated")


class ReplicaCallFailed(STICError):
    """The test request got no usable answer from the replica."""

    status_code = 502
    code = "replica_error"


def service_out(service: ModelService, replicas: list[ModelReplica]) -> schemas.ModelServiceOut:
    """The API view of a service (``model`` never shows the upstream key, only whether one is set)."""
    states = Counter(r.state for r in replicas)
    if service.engine == "openai":
        model: dict[str, Any] = {
            "source": "upstream",
            "url": service.upstream_url,
            "model": service.upstream_model,
            "api_key_set": service.upstream_api_key is not None,
            "kms_key_id": service.upstream_key_id,
            "protocol": service.upstream_protocol,
        }
    else:
        model = {"source": "local", "model_dir": service.model_dir}
    return schemas.ModelServiceOut(
        id=service.id,
        tenant_id=service.tenant_id,
        project_id=service.project_id,
        name=service.name,
        description=service.description,
        version=service.version,
        engine=service.engine,
        served_model_name=service.served_model_name,
        model=model,
        inference={"mode": ENGINE_MODES[service.engine], "api": "openai", "model": service.name},
        resources=service.resources,
        node_selector=dict(service.node_selector or {}),
        queue=service.queue,
        engine_args=[str(a) for a in service.engine_args],
        replicas={
            "desired": service.desired_replicas,
            "min": service.min_replicas,
            "max": service.max_replicas,
            "current": len(replicas),
            "ready": states.get("ready", 0),
        },
        autoscaling=service.autoscaling,
        running=service.running,
        state=service.state,
        simulated=any(r.simulated for r in replicas),
        last_error=service.last_error,
        created_by=service.created_by,
        created_at=service.created_at,
        updated_at=service.updated_at,
    )


async def interface(
    session: AsyncSession, service: ModelService, replicas: list[ModelReplica]
) -> dict[str, Any]:
    """How clients call the service through the gateway, its versions and its instances."""
    siblings = (
        await session.execute(
            scoped(ModelService, service.tenant_id)
            .where(ModelService.served_model_name == service.served_model_name)
            .order_by(ModelService.created_at)
        )
    ).scalars()
    chat = {"model": service.name, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 32}
    return {
        "service_id": service.id,
        "model": service.name,
        "version": service.version,
        "protocol": "openai",
        "base_url": "/v1",
        "authentication": "Authorization: Bearer <STIC API key> with permission inference:use",
        "endpoints": list(GATEWAY_ENDPOINTS),
        "request_examples": {
            "chat.completions": chat,
            "chat.completions.stream": {**chat, "stream": True, "stream_options": {"include_usage": True}},
            "completions": {"model": service.name, "prompt": "Once upon a time", "max_tokens": 32},
            "embeddings": {"model": service.name, "input": ["first text", "second text"]},
        },
        "python": (
            "from openai import OpenAI\n"
            'client = OpenAI(base_url="<STIC URL>/v1", api_key="<STIC API key>")\n'
            f'client.chat.completions.create(model="{service.name}", '
            'messages=[{"role": "user", "content": "Hello"}])'
        ),
        "versions": [
            {"service_id": s.id, "name": s.name, "version": s.version, "state": s.state} for s in siblings
        ],
        "placement": {
            "resources": service.resources,
            "node_selector": dict(service.node_selector or {}),
            "note": "every replica is a scheduler job of type inference placed on a node carrying all "
            "node_selector labels; stic.io/simulated=false selects real machines",
        },
        "instances": {
            "desired": service.desired_replicas,
            "count": len(replicas),
            "ready": sum(1 for r in replicas if r.state == "ready"),
            "replicas": [
                {"id": r.id, "ordinal": r.ordinal, "state": r.state, "node": r.node, "simulated": r.simulated}
                for r in replicas
            ],
        },
    }


async def _call_stats(session: AsyncSession, service: ModelService) -> dict[str, Any]:
    empty = {
        "requests": 0,
        "errors": 0,
        "success_rate": None,
        "latency_ms": {"p50": None, "p95": None, "p99": None},
        "prompt_tokens": 0,
        "completion_tokens": 0,
    }
    try:  # the gateway's request log is optional: a control plane without the gateway has no calls
        service_stats = importlib.import_module("inference.gateway.requestlog").service_stats
    except (ImportError, AttributeError):
        return {**empty, "stats_available": False}
    stats: dict[str, Any] = await service_stats(session, tenant_id=service.tenant_id, service_id=service.id)
    return {**stats, "stats_available": True}


async def _replica_use(
    session: AsyncSession, replica: ModelReplica, executor: Executor | None, http: httpx.AsyncClient
) -> dict[str, Any]:
    use: dict[str, Any] = {
        "cpu_seconds": None,
        "rss_mib": None,
        "runtime_s": None,
        "io": {name: None for name in IO_COUNTERS},
        "engine": {},
        "accelerator": None,
    }
    if executor is not None and replica.job_id is not None:
        task = (
            await session.execute(scoped(TaskRow, replica.tenant_id).where(TaskRow.job_id == replica.job_id))
        ).scalar_one_or_none()
        if task is not None:
            m = await executor.metrics(TaskKey(task.id, task.attempt))
            use.update(cpu_seconds=m.cpu_seconds, rss_mib=m.rss_mib, runtime_s=m.runtime_s)
            use["io"] = {name: m.extra.get(f"io_{name}") for name in IO_COUNTERS}
    if replica.metrics_url and replica.state == "ready":
        try:
            response = await http.get(replica.metrics_url, timeout=2.0)
            if response.is_success:
                use["engine"] = parse_engine_metrics(response.text)
        except (httpx.HTTPError, ValueError):
            pass
    accelerator = {k: v for k, v in use["engine"].items() if k in ACCELERATOR_METRICS}
    use["accelerator"] = accelerator or None
    return use


async def status(
    session: AsyncSession,
    service: ModelService,
    replicas: list[ModelReplica],
    *,
    executor: Executor | None,
    http: httpx.AsyncClient,
) -> dict[str, Any]:
    """Running state, replicas, call statistics and per-replica resource use."""
    details = []
    for r in replicas:
        details.append(
            {
                "id": r.id,
                "ordinal": r.ordinal,
                "state": r.state,
                "node": r.node,
                "simulated": r.simulated,
                "attempt": r.attempt,
                "ready_at": r.ready_at,
                "last_error": r.last_error,
                **await _replica_use(session, r, executor, http),
            }
        )
    return {
        "service_id": service.id,
        "state": service.state,
        "running": service.running,
        "last_error": service.last_error,
        "replicas": {
            "desired": service.desired_replicas,
            "by_state": dict(Counter(r.state for r in replicas)),
            "details": details,
        },
        "calls": await _call_stats(session, service),
        "accelerator_metrics": "per replica under 'accelerator' when its /metrics carries DCGM, Ascend "
        "npu-exporter or stic_accelerator_* series; null means the replica reports none (CPU replicas)",
    }


async def test_call(
    session: AsyncSession,
    service: ModelService,
    body: schemas.TestIn,
    *,
    http: httpx.AsyncClient,
    secrets: SecretOpener | None,
) -> dict[str, Any]:
    """Send one chat completion to the first ready replica; 409 when none is ready, 502 on failure."""
    ready = await ready_replicas(session, service)
    if not ready:
        raise Conflict(
            f"model service '{service.name}' has no ready replica (state {service.state})",
            detail={"state": service.state},
        )
    replica = ready[0]
    api_key = await secrets.open(session, service) if secrets is not None else None
    client = OpenAIHTTPClient(api_base=replica.api_base, api_key=api_key, http=http)
    request = {
        "model": service.served_model_name,
        "messages": [{"role": "user", "content": body.prompt}],
        "max_tokens": body.max_tokens,
    }
    started = time.perf_counter()
    try:
        answer = await client.chat_completions(request)
    except EngineUnavailableError as exc:
        raise ReplicaCallFailed(f"replica {replica.id} did not answer: {exc}") from exc
    latency_ms = (time.perf_counter() - started) * 1000
    if not answer.ok:
        raise ReplicaCallFailed(
            f"replica {replica.id} answered {answer.status_code}",
            detail={"status_code": answer.status_code, "body": answer.body},
        )
    choice = (answer.body.get("choices") or [{}])[0]
    return {
        "replica_id": replica.id,
        "model": service.name,
        "prompt": body.prompt,
        "answer": (choice.get("message") or {}).get("content"),
        "finish_reason": choice.get("finish_reason"),
        "usage": answer.body.get("usage"),
        "latency_ms": latency_ms,
        "simulated": replica.simulated,
    }
