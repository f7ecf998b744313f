"""What a local replica runs: the engine's command line and the scheduler job around it (pure).

A replica of a ``builtin`` or ``vllm`` service is one scheduler job of type ``inference`` with one
task whose command is the engine's OpenAI server on the port the controller chose; its recovery
policy is ``restart_in_place`` so the scheduler restarts a crashed replica with the same command
(and so on the same port). ``openai`` services have no job.
"""

from __future__ import annotations

import uuid

from inference.engines.base import ReplicaSpec
from inference.engines.builtin.engine import BuiltinEngine
from inference.engines.settings import REPO_ROOT, EngineSettings
from inference.engines.vllm_engine import VLLMEngine
from inference.modelservice.models import ModelService
from scheduler.model import JobType
from scheduler.recovery.policy import PolicyKind
from scheduler.service.jobspec import AcceleratorsIn, GroupIn, JobCreate, RecoveryIn

LOCAL_ENGINES = ("builtin", "vllm")
RESERVED_ARGS = ("--host", "--port", "--model", "--served-model-name")


def replica_threads(cpu_milli: int) -> int:
    """torch / OpenMP threads for a replica granted ``cpu_milli`` (at least one)."""
    return max(1, cpu_milli // 1000)


def replica_command(
    service: ModelService, *, host: str, port: int, settings: EngineSettings | None = None
) -> list[str]:
    """The argv of the engine server for ``service`` listening on ``host:port``.

    Raises :class:`~inference.engines.errors.EngineConfigError` when the model directory or the
    vLLM interpreter is missing.
    """
    if service.engine not in LOCAL_ENGINES or service.model_dir is None:
        raise ValueError(f"engine {service.engine!r} runs no local replica")
    threads = replica_threads(int(service.resources.get("cpu_milli", 1000)))
    spec = ReplicaSpec(model=service.model_dir, served_model_name=service.served_model_name)
    if service.engine == "builtin":
        base = settings or EngineSettings()
        argv = BuiltinEngine(base.model_copy(update={"builtin_threads": threads})).command(spec)
    else:
        argv = VLLMEngine(settings).command(spec)
    return [*argv, "--host", host, "--port", str(port), *(str(a) for a in service.engine_args)]


def replica_env(service: ModelService, settings: EngineSettings | None = None) -> dict[str, str]:
    """Environment of the replica's task (the scheduler passes only PATH from the control plane)."""
    threads = str(replica_threads(int(service.resources.get("cpu_milli", 1000))))
    env = {
        "PYTHONPATH": str(REPO_ROOT),
        "OMP_NUM_THREADS": threads,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "STIC_MODEL_SERVICE": service.id,
    }
    if service.engine == "vllm":
        env.update(VLLMEngine(settings).environment())
    return env


def job_name(service: ModelService, ordinal: int) -> str:
    """A job name unique for ever within the tenant (the scheduler keeps deleted jobs' names)."""
    return f"{service.name[:40].rstrip('-')}-r{ordinal}-{uuid.uuid4().hex[:8]}"


def replica_job(
    service: ModelService,
    *,
    ordinal: int,
    host: str,
    port: int,
    max_retries: int,
    settings: EngineSettings | None = None,
) -> JobCreate:
    """The scheduler job of replica ``ordinal`` of ``service`` (with the service's node selector)."""
    resources = service.resources
    accelerators = resources.get("accelerators")
    group = GroupIn(
        name="server",
        replicas=1,
        cpu_milli=int(resources["cpu_milli"]),
        memory_mib=int(resources["memory_mib"]),
        accelerators=AcceleratorsIn.model_validate(accelerators) if accelerators else None,
        command=replica_command(service, host=host, port=port, settings=settings),
        env=replica_env(service, settings),
    )
    return JobCreate(
        name=job_name(service, ordinal),
        project_id=service.project_id,
        queue=service.queue,
        type=JobType.INFERENCE,
        description=f"replica {ordinal} of model service {service.name}"[:200],
        groups=[group],
        node_selector=dict(service.node_selector or {}),
        preemptible=False,
        recovery=RecoveryIn(
            policy=PolicyKind.RESTART_IN_PLACE,
            max_retries=max_retries,
            backoff_seconds=1.0,
            backoff_max_seconds=30.0,
        ),
    )
