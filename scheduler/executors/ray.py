"""Ray executor: one placement group per gang, one bundle per task, every task a Ray actor.

The placement strategy follows the job's topology constraint (``STRICT_PACK`` for a required
node-tier constraint, ``PACK`` for other constraints, ``SPREAD`` without one). Each actor runs
the task's command under :func:`scheduler.executors.runner.run`, which writes the same state
files as the local executor (output log, heartbeats, exit code) into the executor's folder;
with a multi-machine Ray cluster that folder must be shared storage. Ray is an optional extra
(``ray[default]``); importing this module without it raises ImportError naming the extra.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scheduler.executors.base import Phase, TaskKey, TaskLaunch, TaskMetrics, TaskStatus

try:
    import ray
    from ray.util.placement_group import PlacementGroup, placement_group, remove_placement_group
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("the Ray executor needs the 'ray' extra: pip install 'ray[default]'") from exc


class _TaskActor:
    """Runs one task attempt; ``terminate`` may be called while ``run`` blocks (2 threads).

    A terminate that arrives before the task started makes ``run`` stop it as soon as it starts.
    """

    def __init__(self) -> None:
        self.child: Any = None
        self.stopped = False

    def run(self, state_dir: str, argv: list[str], env: dict[str, str], cwd: str) -> int:
        from scheduler.executors.runner import run

        def keep(child: Any) -> None:
            self.child = child
            if self.stopped:
                child.terminate()

        if self.stopped:
            return -15
        return run(Path(state_dir), argv, env=env, cwd=cwd, on_start=keep)

    def terminate(self) -> None:
        self.stopped = True
        if self.child is not None and self.child.poll() is None:
            self.child.terminate()


TaskActor: Any = ray.remote(max_concurrency=2)(_TaskActor)  # type: ignore[call-overload]


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class RayExecutor:
    """Executor on a Ray cluster (``ray.init`` is called on first use unless Ray is initialised)."""

    name = "ray"

    def __init__(self, root: Path, *, init_kwargs: dict[str, Any] | None = None, stop_grace_s: float = 3.0):
        self.root = root
        self.init_kwargs = init_kwargs or {}
        self.stop_grace_s = stop_grace_s
        self._groups: dict[str, PlacementGroup] = {}
        self._actors: dict[TaskKey, tuple[str, Any, Any]] = {}
        root.mkdir(parents=True, exist_ok=True)

    def state_dir(self, key: TaskKey) -> Path:
        """Folder holding the attempt's files."""
        return self.root / key.slug

    async def _ensure_ray(self) -> None:
        if not ray.is_initialized():
            kwargs = {"include_dashboard": False, "log_to_driver": False, **self.init_kwargs}
            await asyncio.to_thread(ray.init, **kwargs)

    async def _group(self, gang: Sequence[TaskLaunch]) -> PlacementGroup:
        first = gang[0]
        group = self._groups.get(first.gang)
        if group is None:
            bundles: list[dict[str, float]] = [{"CPU": 0.0} for _ in range(first.gang_size)]
            for task in gang:
                bundles[task.index] = {"CPU": max(task.cpu_milli, 1) / 1000}
            for i, bundle in enumerate(bundles):
                if not bundle["CPU"]:
                    bundles[i] = {"CPU": bundles[0]["CPU"] or 0.001}
            group = placement_group(bundles, strategy=first.strategy, name=f"stic-{first.gang}")
            await asyncio.to_thread(ray.get, group.ready())
            self._groups[first.gang] = group
        return group

    async def launch(self, gang: Sequence[TaskLaunch]) -> None:
        """Create the gang's placement group (once) and start one actor per task not yet started."""
        todo = [t for t in gang if t.key not in self._actors]
        if not todo:
            return
        await self._ensure_ray()
        group = await self._group(todo)
        for task in todo:
            state = self.state_dir(task.key)
            state.mkdir(parents=True, exist_ok=True)
            task.work_dir.mkdir(parents=True, exist_ok=True)
            strategy = PlacementGroupSchedulingStrategy(group, placement_group_bundle_index=task.index)
            actor = TaskActor.options(
                num_cpus=max(task.cpu_milli, 1) / 1000, scheduling_strategy=strategy
            ).remote()
            ref = actor.run.remote(str(state), list(task.argv), dict(task.env), str(task.work_dir))
            self._actors[task.key] = (task.gang, actor, ref)

    async def status(self, key: TaskKey) -> TaskStatus:
        """Exit code from the actor's result; heartbeat and progress from the state files."""
        state = self.state_dir(key)
        beat = _read_json(state / "heartbeat.json") or {}
        heartbeat_at = (
            datetime.fromtimestamp(beat["time"], UTC) if isinstance(beat.get("time"), float) else None
        )
        progress = beat.get("progress") if isinstance(beat.get("progress"), int | float) else None
        entry = self._actors.get(key)
        if entry is None:
            done = _read_json(state / "exit.json")
            if done is not None and isinstance(done.get("code"), int):
                return TaskStatus(Phase.EXITED, done["code"], heartbeat_at, progress)
            return TaskStatus(Phase.UNKNOWN)
        ready, _ = await asyncio.to_thread(ray.wait, [entry[2]], timeout=0)
        if not ready:
            return TaskStatus(Phase.RUNNING, None, heartbeat_at, progress)
        try:
            code = int(await asyncio.to_thread(ray.get, entry[2]))
        except ray.exceptions.RayError:
            return TaskStatus(Phase.LOST, None, heartbeat_at, progress)
        return TaskStatus(Phase.EXITED, code, heartbeat_at, progress)

    async def stop(self, key: TaskKey) -> None:
        """Ask the actor to terminate the task, wait for the grace period, then kill the actor."""
        entry = self._actors.get(key)
        if entry is None:
            return
        _, actor, ref = entry
        with contextlib.suppress(ray.exceptions.RayError):
            await asyncio.to_thread(ray.get, actor.terminate.remote())
        ready, _ = await asyncio.to_thread(ray.wait, [ref], timeout=self.stop_grace_s)
        if not ready:
            ray.kill(actor)
            await asyncio.to_thread(ray.wait, [ref], timeout=self.stop_grace_s)

    async def release(self, gang: str) -> None:
        """Kill the gang's actors and remove its placement group."""
        for key, (owner, actor, _) in list(self._actors.items()):
            if owner == gang:
                with contextlib.suppress(ray.exceptions.RayError):
                    ray.kill(actor)
                del self._actors[key]
        group = self._groups.pop(gang, None)
        if group is not None:
            remove_placement_group(group)

    async def logs(self, key: TaskKey, *, tail_bytes: int) -> str:
        """The end of the attempt's output log."""
        path = self.state_dir(key) / "output.log"
        try:
            data = path.read_bytes()
        except OSError:
            return ""
        return data[-tail_bytes:].decode(errors="replace")

    async def metrics(self, key: TaskKey) -> TaskMetrics:
        """Run time of the attempt (Ray does not expose per-actor CPU seconds here)."""
        pids = _read_json(self.state_dir(key) / "pid.json") or {}
        done = _read_json(self.state_dir(key) / "exit.json")
        started = pids.get("time")
        if not isinstance(started, int | float):
            return TaskMetrics()
        end_value = done.get("time") if done else None
        end = float(end_value) if isinstance(end_value, int | float) else time.time()
        return TaskMetrics(runtime_s=max(0.0, end - float(started)))

    async def close(self) -> None:
        """Forget handles; the Ray cluster keeps running whatever it runs."""
        self._actors.clear()
        self._groups.clear()
