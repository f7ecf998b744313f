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
    network_rtt_factor: float = Field(
        default=3.0, gt=1, le=1000, description="network-slow: RTT above this times the domain peers' median"
    )
    network_bandwidth_fraction: float = Field(
        default=0.5, gt=0, lt=1, description="network-slow: bandwidth below this share of the peers' median"
    )
    network_retransmit_floor: float = Field(
        default=0.01, ge=0, le=1, description="retransmit ratios at or below this never count as slow"
    )
    network_min_peers: int = Field(
        default=2, ge=1, le=1000, description="fresh peers in the leaf domain needed to judge a node"
    )
    network_max_age_s: float = Field(
        default=300.0, gt=0, description="network figures older than this are ignored"
    )
    local_network_probe_s: float = Field(
        default=60.0, gt=0, description="how often the local node measures its loopback network"
    )
    log_tail_bytes: int = Field(default=65536, ge=1024, le=16 * 2**20)
    local_node_name: str | None = Field(default=None, description="name of this machine's node")
    enabled: bool = Field(default=True, description="run the scheduling loop in this process")
