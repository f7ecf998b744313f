"""Tunables of the scheduler service, read from ``STIC_SCHEDULER_*`` environment variables.

Tests and embedders may put a :class:`SchedulerOptions` on ``app.state.scheduler_options``
before the app starts; the service uses it instead of the environment.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SchedulerOptions(BaseSettings):
    """How the scheduling loop runs and where tasks keep their files."""

    model_config = SettingsConfigDict(env_prefix="STIC_SCHEDULER_", extra="ignore")

    work_dir: Path | None = Field(
        default=None, description="task logs, checkpoints; default <STIC_DATA_DIR>/scheduler"
    )
    executor: str = Field(default="local", description="executor name (see scheduler.executors.registry)")
    policy: str = Field(default="default", description="scheduler config name or YAML path")
    tick_s: float = Field(default=0.25, gt=0, le=60, description="monitor period")
    cycle_s: float = Field(default=1.0, gt=0, le=600, description="scheduling period when nothing wakes it")
    node_heartbeat_timeout_s: float = Field(default=30.0, gt=0, description="silence before a node is lost")
    node_heartbeat_s: float = Field(default=5.0, gt=0, description="how often the local node reports")
    cordon_after_failures: int = Field(default=3, ge=1, description="task faults before a node is cordoned")
    failure_window_s: float = Field(
        default=600.0, gt=0, description="task faults older than this no longer count toward a cordon"
    )
    straggler_min_elapsed_s: float = Field(default=2.0, ge=0)
    log_tail_bytes: int = Field(default=65536, ge=1024, le=16 * 2**20)
    local_node_name: str | None = Field(default=None, description="name of this machine's node")
    enabled: bool = Field(default=True, description="run the scheduling loop in this process")
