"""The environment a task sees: rank, world size, master address, checkpoint directory, devices.

Pure: the same placement always gives the same environment. Visible-device variables follow each
vendor's runtime (``CUDA_VISIBLE_DEVICES``, ``ASCEND_RT_VISIBLE_DEVICES``, ...). A task placed on a
simulated node runs as a real local process with ``STIC_SIMULATED=1``: the devices it is told
about do not exist on this machine.

Tasks report liveness by printing ``STIC_HEARTBEAT`` and progress by printing
``STIC_PROGRESS <number>`` on a line of their standard output.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass

VISIBLE_DEVICES_VAR: dict[str, str] = {
    "nvidia": "CUDA_VISIBLE_DEVICES",
    "huawei-ascend": "ASCEND_RT_VISIBLE_DEVICES",
    "cambricon": "MLU_VISIBLE_DEVICES",
    "hygon": "HIP_VISIBLE_DEVICES",
    "kunlunxin": "XPU_VISIBLE_DEVICES",
}
PORT_BASE, PORT_SPAN = 20000, 10000


@dataclass(frozen=True, slots=True)
class PlacementInfo:
    """Where one task of a gang runs and what it holds."""

    job_id: str
    task: str
    rank: int
    world_size: int
    local_rank: int
    node: str
    master_addr: str
    vendor: str | None = None
    devices: tuple[int, ...] = ()
    accel_milli: int = 0
    accel_memory_mib: int = 0
    simulated: bool = False
    attempt: int = 0


def master_port(job_id: str, attempt: int) -> int:
    """A port for the gang's rendezvous, stable for one attempt of one job."""
    return PORT_BASE + zlib.crc32(f"{job_id}/{attempt}".encode()) % PORT_SPAN


def placement_env(
    placement: PlacementInfo,
    *,
    checkpoint_dir: str,
    resume_from: str | None = None,
    user_env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The task's environment: ``user_env`` overlaid with the placement variables (which win)."""
    env = dict(user_env or {})
    devices = ",".join(str(d) for d in placement.devices)
    env.update(
        {
            "RANK": str(placement.rank),
            "WORLD_SIZE": str(placement.world_size),
            "LOCAL_RANK": str(placement.local_rank),
            "MASTER_ADDR": placement.master_addr,
            "MASTER_PORT": str(master_port(placement.job_id, placement.attempt)),
            "STIC_JOB_ID": placement.job_id,
            "STIC_TASK_NAME": placement.task,
            "STIC_NODE": placement.node,
            "STIC_ATTEMPT": str(placement.attempt),
            "STIC_CHECKPOINT_DIR": checkpoint_dir,
            "STIC_SIMULATED": "1" if placement.simulated else "0",
            "STIC_VISIBLE_DEVICES": devices,
        }
    )
    if placement.vendor is not None:
        env[VISIBLE_DEVICES_VAR.get(placement.vendor, "STIC_VISIBLE_DEVICES")] = devices
        if placement.accel_milli < 1000:
            env["STIC_ACCEL_COMPUTE_MILLI"] = str(placement.accel_milli)
            env["STIC_ACCEL_MEMORY_MIB"] = str(placement.accel_memory_mib)
            if placement.vendor == "nvidia":
                env["CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"] = str(max(1, placement.accel_milli // 10))
    if resume_from is not None:
        env["STIC_RESUME_FROM"] = resume_from
    return env
