"""Shared steps of engines that run a local OpenAI server process (vllm, builtin)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from inference.engines.base import Replica, ReplicaSpec
from inference.engines.errors import EngineConfigError
from inference.engines.process import ManagedProcess, free_port


def require_model_dir(spec: ReplicaSpec) -> Path:
    """The spec's model as an existing directory with a ``config.json``, or :class:`EngineConfigError`."""
    path = Path(spec.model)
    if not (path / "config.json").is_file():
        raise EngineConfigError(f"model {spec.model!r} is not a local model directory (no config.json)")
    return path


async def launch(
    *,
    engine: str,
    spec: ReplicaSpec,
    argv: Sequence[str],
    env: dict[str, str],
    log_dir: Path,
    timeout_s: float,
    cwd: Path | None = None,
) -> Replica:
    """Spawn ``argv + --host/--port`` and return the replica once ``/health`` answers.

    On failure the process is stopped and :class:`~inference.engines.errors.EngineStartError` raised.
    """
    if spec.api_key:
        raise EngineConfigError(f"the {engine} engine takes no api_key (only the openai engine does)")
    port = spec.port or free_port(spec.host)
    root = f"http://{spec.host}:{port}"
    log_path = spec.log_path or log_dir / f"{engine}-{spec.served_model_name}-{port}.log"
    process = ManagedProcess.spawn(
        [*argv, "--host", spec.host, "--port", str(port), *spec.extra_args],
        log_path=log_path,
        env={**env, **spec.env},
        cwd=cwd,
    )
    try:
        await process.wait_healthy(url=f"{root}/health", timeout_s=timeout_s)
    except BaseException:
        await process.stop()
        raise
    return Replica(
        engine=engine,
        served_model_name=spec.served_model_name,
        api_base=f"{root}/v1",
        health_url=f"{root}/health",
        metrics_url=f"{root}/metrics",
        process=process,
    )


async def stop_replica(replica: Replica) -> None:
    """Stop the replica's process, if it has one (idempotent)."""
    if replica.process is not None:
        await replica.process.stop()
