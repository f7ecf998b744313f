"""Ray executor: one placement group per gang, one bundle per task, every task a Ray actor.

The placement strategy follows the job's topology constraint (``STRICT_PACK`` for a required
node-tier constraint, ``PACK`` for other constraints, ``SPREAD`` without one). Each actor runs
the task's command under :func:`scheduler.executors.runner.run`, which writes the same state
files as the local executor (output log, heartbeats, exit code) into the executor's folder;
with a multi-machine Ray cluster that folder must be shared storage. Ray is an optional extra
(``ray[default]``); importing this module without it raises ImportError naming the extra.

Re-adoption. Actors and placement groups are named (actor ``stic:<gang>:<task>.<attempt>``, group
``stic-<gang>``) in the Ray namespace ``stic``, and the actor runs its task in a thread of its own
(``start`` returns at once; ``poll`` answers the exit code), so nothing depends on the driver that
launched it. A new executor (a restarted control plane) finds them again by name: ``status``,
``stop``, ``logs`` and ``release`` work on tasks another driver launched, a finished task's exit code
is still read from its actor, a gang's placement group is reused, and ``launch`` of a key whose actor
exists starts nothing. When the executor connects to an existing cluster (``address`` in
``init_kwargs`` or ``RAY_ADDRESS``; ``STIC_SCHEDULER_EXECUTOR=ray`` with ``RAY_ADDRESS`` set) both are
*detached*, so they outlive the driver process. Without an address ``ray.init`` starts a local
cluster that dies with the process, taking its tasks along: re-adoption across a restart of the
control plane needs an external cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
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


NAMESPACE = "stic"


class _TaskActor:
    """Runs one task attempt in a thread of its own; ``start`` returns at once.

    ``poll`` answers the exit code once the task ended (``None`` before), whoever asks: the driver
    that started it or a later one. A ``terminate`` that arrives before the task started makes it
    stop as soon as it starts.
    """

    def __init__(self) -> None:
        self.child: Any = None
        self.stopped = False
        self.code: int | None = None
        self.thread: threading.Thread | None = None

    def start(self, state_dir: str, argv: list[str], env: dict[str, str], cwd: str) -> None:
        from scheduler.executors.runner import run

        def keep(child: Any) -> None:
            self.child = child
            if self.stopped:
                child.terminate()

        def work() -> None:
            self.code = -15 if self.stopped else run(Path(state_dir), argv, env=env, cwd=cwd, on_start=keep)

        if self.thread is None:
            self.thread = threading.Thread(target=work, name="stic-task", daemon=True)
            self.thread.start()

    def poll(self) -> int | None:
        return self.code

    def terminate(self) -> None:
        self.stopped = True
        if self.child is not None and self.child.poll() is None:
            self.child.terminate()


TaskActor: Any = ray.remote(max_concurrency=2)(_TaskActor)  # type: ignore[call-overload]


def actor_name(gang: str, key: TaskKey) -> str:
    """The Ray name of the actor running ``key`` of ``gang`` (in namespace :data:`NAMESPACE`)."""
    return f"stic:{gang}:{key.slug}"


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
        address = self.init_kwargs.get("address") or os.environ.get("RAY_ADDRESS")
        self.detached = bool(address) and address != "local"
        self._groups: dict[str, PlacementGroup] = {}
        self._actors: dict[TaskKey, tuple[str, Any]] = {}
        root.mkdir(parents=True, exist_ok=True)

    def state_dir(self, key: TaskKey) -> Path:
        """Folder holding the attempt's files."""
        return self.root / key.slug

    async def _ensure_ray(self) -> None:
        if not ray.is_initialized():
            kwargs = {
                "include_dashboard": False,
                "log_to_driver": False,
                "namespace": NAMESPACE,
                **self.init_kwargs,
            }
            await asyncio.to_thread(ray.init, **kwargs)

    def _lifetime(self) -> dict[str, Any]:
        return {"lifetime": "detached"} if self.detached else {}

    async def _group(self, gang: Sequence[TaskLaunch]) -> PlacementGroup:
        first = gang[0]
        group = self._groups.get(first.gang)
        if group is None:
            group = await self._find_group(first.gang)
        if group is None:
            bundles: list[dict[str, float]] = [{"CPU": 0.0} for _ in range(first.gang_size)]
            for task in gang:
                bundles[task.index] = {"CPU": max(task.cpu_milli, 1) / 1000}
            for i, bundle in enumerate(bundles):
                if not bundle["CPU"]:
                    bundles[i] = {"CPU": bundles[0]["CPU"] or 0.001}
            group = placement_group(
                bundles, strategy=first.strategy, name=f"stic-{first.gang}", **self._lifetime()
            )
        await asyncio.to_thread(ray.get, group.ready())
        self._groups[first.gang] = group
        return group

    async def _find_group(self, gang: str) -> PlacementGroup | None:
        """The gang's placement group made by an earlier executor, if it still exists."""
        try:
            group = await asyncio.to_thread(ray.util.get_placement_group, f"stic-{gang}")
        except ValueError:
            return None
        found: PlacementGroup = group
        return found

    async def _find_actor(self, gang: str, key: TaskKey) -> Any:
        """The named actor of ``key`` (launched by this or an earlier executor), or None."""
        try:
            return await asyncio.to_thread(ray.get_actor, actor_name(gang, key), namespace=NAMESPACE)
        except ValueError:
            return None

    async def _actor(self, key: TaskKey) -> tuple[str, Any] | None:
        """(gang, actor) of ``key``: known, or re-adopted by the name recorded at launch."""
        entry = self._actors.get(key)
        if entry is not None:
            return entry
        record = _read_json(self.state_dir(key) / "ray.json")
        if record is None or not isinstance(record.get("gang"), str):
            return None
        await self._ensure_ray()
        actor = await self._find_actor(record["gang"], key)
        if actor is None:
            return None
        self._actors[key] = (record["gang"], actor)
        return self._actors[key]

    async def launch(self, gang: Sequence[TaskLaunch]) -> None:
        """Create the gang's placement group (once) and start one actor per task not yet started.

        A task whose named actor already exists (started by an earlier executor) is adopted, not
        started again."""
        todo = [t for t in gang if t.key not in self._actors]
        if not todo:
            return
        await self._ensure_ray()
        fresh = []
        for task in todo:
            actor = await self._find_actor(task.gang, task.key)
            if actor is not None:
                self._actors[task.key] = (task.gang, actor)
            else:
                fresh.append(task)
        if not fresh:
            return
        group = await self._group(fresh)
        for task in fresh:
            state = self.state_dir(task.key)
            state.mkdir(parents=True, exist_ok=True)
            task.work_dir.mkdir(parents=True, exist_ok=True)
            name = actor_name(task.gang, task.key)
            (state / "ray.json").write_text(json.dumps({"gang": task.gang, "actor": name}))
            strategy = PlacementGroupSchedulingStrategy(group, placement_group_bundle_index=task.index)
            actor = TaskActor.options(
                name=name,
                namespace=NAMESPACE,
                num_cpus=max(task.cpu_milli, 1) / 1000,
                scheduling_strategy=strategy,
                **self._lifetime(),
            ).remote()
            await asyncio.to_thread(
                ray.get, actor.start.remote(str(state), list(task.argv), dict(task.env), str(task.work_dir))
            )
            self._actors[task.key] = (task.gang, actor)

    async def status(self, key: TaskKey) -> TaskStatus:
        """Exit code from the actor (or its ``exit.json``); heartbeat and progress from the state files."""
        state = self.state_dir(key)
        beat = _read_json(state / "heartbeat.json") or {}
        heartbeat_at = (
            datetime.fromtimestamp(beat["time"], UTC) if isinstance(beat.get("time"), float) else None
        )
        progress = beat.get("progress") if isinstance(beat.get("progress"), int | float) else None
        done = _read_json(state / "exit.json")
        exited = TaskStatus(Phase.EXITED, done["code"], heartbeat_at, progress) if done else None
        if exited is not None and not isinstance(exited.exit_code, int):
            exited = None
        entry = await self._actor(key)
        if entry is None:
            return exited or TaskStatus(Phase.UNKNOWN)
        try:
            code: Any = await asyncio.to_thread(ray.get, entry[1].poll.remote())
        except ray.exceptions.RayError:
            return exited or TaskStatus(Phase.LOST, None, heartbeat_at, progress)
        if code is None:
            return TaskStatus(Phase.RUNNING, None, heartbeat_at, progress)
        return TaskStatus(Phase.EXITED, int(code), heartbeat_at, progress)

    async def stop(self, key: TaskKey) -> None:
        """Ask the actor to terminate the task, wait for the grace period, then kill the actor."""
        entry = await self._actor(key)
        if entry is None:
            return
        actor = entry[1]
        with contextlib.suppress(ray.exceptions.RayError):
            await asyncio.to_thread(ray.get, actor.terminate.remote())
        deadline = time.monotonic() + self.stop_grace_s
        while time.monotonic() < deadline:
            try:
                if await asyncio.to_thread(ray.get, actor.poll.remote()) is not None:
                    return
            except ray.exceptions.RayError:
                return
            await asyncio.sleep(0.05)
        ray.kill(actor)

    async def release(self, gang: str) -> None:
        """Kill the gang's actors (any executor's: found by name) and remove its placement group."""
        for key, (owner, actor) in list(self._actors.items()):
            if owner == gang:
                with contextlib.suppress(ray.exceptions.RayError):
                    ray.kill(actor)
                del self._actors[key]
        if not ray.is_initialized() and not self.detached:
            return  # no cluster of ours, so nothing of this gang exists
        await self._ensure_ray()
        prefix = f"stic:{gang}:"
        named = await asyncio.to_thread(ray.util.list_named_actors, all_namespaces=True)
        for item in named:
            if item["namespace"] == NAMESPACE and item["name"].startswith(prefix):
                with contextlib.suppress(ValueError, ray.exceptions.RayError):
                    ray.kill(await asyncio.to_thread(ray.get_actor, item["name"], namespace=NAMESPACE))
        group = self._groups.pop(gang, None) or await self._find_group(gang)
        if group is not None:
            with contextlib.suppress(ray.exceptions.RayError):
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
        """Forget handles; the Ray cluster keeps running whatever it runs (re-adopted by name later)."""
        self._actors.clear()
        self._groups.clear()
