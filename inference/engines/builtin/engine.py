"""The builtin engine as a replica: ``python -m inference.engines.builtin`` in a child process."""

from __future__ import annotations

import sys

from inference.engines._local import launch, require_model_dir, stop_replica
from inference.engines.base import Replica, ReplicaSpec
from inference.engines.settings import REPO_ROOT, EngineSettings


class BuiltinEngine:
    """Starts the builtin transformers engine with this interpreter."""

    name = "builtin"

    def __init__(self, settings: EngineSettings | None = None) -> None:
        self.settings = settings or EngineSettings()

    def command(self, spec: ReplicaSpec) -> list[str]:
        """The argv (without host and port) for ``spec``."""
        argv = [
            sys.executable,
            "-m",
            "inference.engines.builtin",
            "--model",
            str(require_model_dir(spec)),
            "--served-model-name",
            spec.served_model_name,
        ]
        if self.settings.builtin_threads is not None:
            argv += ["--threads", str(self.settings.builtin_threads)]
        return argv

    async def start(self, spec: ReplicaSpec) -> Replica:
        """Start the process and wait for ``/health`` (model load takes a few seconds)."""
        return await launch(
            engine=self.name,
            spec=spec,
            argv=self.command(spec),
            env={},
            log_dir=self.settings.engine_log_dir,
            timeout_s=spec.startup_timeout_s or self.settings.builtin_startup_timeout_s,
            cwd=REPO_ROOT,
        )

    async def stop(self, replica: Replica) -> None:
        """Stop the process."""
        await stop_replica(replica)
