"""Tunables of the batch service, from ``STIC_BATCHES_*`` (tests set ``app.state.batch_options``)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.kernel.settings import Settings


class BatchOptions(BaseSettings):
    """Where workers send requests and report results, and how batch jobs are shaped."""

    model_config = SettingsConfigDict(env_prefix="STIC_BATCHES_", extra="ignore")

    control_url: str | None = Field(
        default=None,
        description="platform URL the worker reports to; default STIC_PUBLIC_URL, else http://<host>:<port>",
    )
    inference_url: str | None = Field(
        default=None,
        description="OpenAI-compatible base URL (ending in /v1) the worker sends lines to; "
        "default <control_url>/v1, the platform's gateway",
    )
    work_dir: Path | None = Field(
        default=None, description="runner credentials; default <STIC_DATA_DIR>/batches"
    )
    files_dir: Path | None = Field(default=None, description="file content; default <STIC_DATA_DIR>/files")
    tick_s: float = Field(default=1.0, gt=0, le=60, description="controller period")
    queue: str = Field(default="default", description="scheduler queue of batch jobs")
    worker_concurrency: int = Field(default=4, ge=1, le=256, description="requests in flight per worker")
    worker_cpu_milli: int = Field(default=500, ge=0)
    worker_memory_mib: int = Field(default=256, ge=0)
    worker_max_retries: int = Field(default=5, ge=0, le=100, description="restarts of a failed worker")
    request_timeout_s: float = Field(default=600.0, gt=0, description="per request line, in the worker")
    enabled: bool = Field(default=True, description="run the batch controller in this process")

    def resolved(self, settings: Settings) -> BatchOptions:
        """A copy with every default filled from the platform settings."""
        control = (
            self.control_url or os.environ.get("STIC_PUBLIC_URL") or f"http://{settings.host}:{settings.port}"
        )
        control = control.rstrip("/")
        return self.model_copy(
            update={
                "control_url": control,
                "inference_url": (self.inference_url or f"{control}/v1").rstrip("/"),
                "work_dir": self.work_dir or settings.data_dir / "batches",
                "files_dir": self.files_dir or settings.data_dir / "files",
            }
        )
