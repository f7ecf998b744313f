"""Turn placed task rows into :class:`TaskLaunch` values (environment, folders, Ray strategy)."""

from __future__ import annotations

import os
from pathlib import Path

from scheduler.executors.base import TaskKey, TaskLaunch
from scheduler.executors.env import PlacementInfo, placement_env
from scheduler.recovery.policy import PolicyKind
from scheduler.service.jobspec import recovery_policy
from scheduler.service.models import JobRow, NodeRow, TaskRow


def job_dir(work_dir: Path, job_id: str) -> Path:
    """The job's working folder (tasks' current directory)."""
    return work_dir / "jobs" / job_id


def checkpoint_dir(work_dir: Path, job_id: str) -> Path:
    """Where the job's tasks write checkpoints (``STIC_CHECKPOINT_DIR``)."""
    return job_dir(work_dir, job_id) / "checkpoints"


def latest_checkpoint(folder: Path) -> Path | None:
    """The most recently modified entry of ``folder`` (None if empty or missing)."""
    try:
        entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    except OSError:
        return None
    return max(entries, key=lambda p: (p.stat().st_mtime_ns, p.name), default=None)


def strategy(job: JobRow) -> str:
    """Ray placement strategy from the job's topology constraint."""
    topo = job.spec.get("topology")
    if topo is None:
        return "SPREAD"
    if topo["tier"] == "node" and topo["mode"] == "required":
        return "STRICT_PACK"
    return "PACK"


def build_launches(
    job: JobRow, tasks: list[TaskRow], launching: list[TaskRow], nodes: dict[str, NodeRow], work_dir: Path
) -> list[TaskLaunch]:
    """Launches for ``launching`` (placed tasks of ``job``; ``tasks`` are all its placed tasks)."""
    placed = sorted((t for t in tasks if t.node is not None), key=lambda t: t.rank)
    world = len(placed)
    order = {t.id: i for i, t in enumerate(placed)}
    master = nodes.get(placed[0].node or "") if placed else None
    master_addr = str(master.labels.get("address", "127.0.0.1")) if master is not None else "127.0.0.1"
    groups = {g["name"]: g for g in job.spec["groups"]}
    ckpt = checkpoint_dir(work_dir, job.id)
    policy = recovery_policy(job.spec)
    out = []
    for task in launching:
        node = nodes.get(task.node or "")
        assert node is not None, f"task {task.name} is not placed on a known node"
        local_rank = sum(1 for t in placed if t.node == task.node and order[t.id] < order[task.id])
        resume = None
        if policy.kind is PolicyKind.RESTART_FROM_CHECKPOINT and task.attempt > 0:
            found = latest_checkpoint(ckpt)
            resume = str(found) if found is not None else None
        info = PlacementInfo(
            job_id=job.id,
            task=task.name,
            rank=order[task.id],
            world_size=world,
            local_rank=local_rank,
            node=node.name,
            master_addr=master_addr,
            vendor=node.accelerator["vendor"] if node.accelerator and task.devices else None,
            devices=tuple(task.devices),
            accel_milli=task.accel_milli,
            accel_memory_mib=task.accel_memory_mib,
            simulated=node.simulated,
            attempt=task.attempt,
        )
        group = groups[task.group]
        env = placement_env(
            info, checkpoint_dir=str(ckpt), resume_from=resume, user_env=group.get("env") or {}
        )
        # Only PATH is taken from the control plane: its other variables may hold secrets.
        env.setdefault("PATH", os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"))
        out.append(
            TaskLaunch(
                key=TaskKey(task.id, task.attempt),
                gang=job.id,
                name=task.name,
                argv=tuple(group["command"]),
                env=env,
                work_dir=job_dir(work_dir, job.id),
                index=order[task.id],
                gang_size=world,
                cpu_milli=group["cpu_milli"],
                memory_mib=group["memory_mib"],
                strategy=strategy(job),
            )
        )
    return out
