"""Every registered executor honours the protocol: a 2-task gang runs, reports, logs and stops.

The Ray executor runs on a real local Ray cluster (``ray.init(num_cpus=2)``).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from scheduler.executors.base import Executor, Phase, TaskKey, TaskLaunch
from scheduler.executors.registry import EXECUTORS, create_executor

PY = sys.executable


def launch(key: TaskKey, work: Path, code: str, index: int = 0, size: int = 2) -> TaskLaunch:
    return TaskLaunch(
        key=key,
        gang="job_gang",
        name=f"w-{index}",
        argv=(PY, "-c", code),
        env={"PATH": "/usr/bin:/bin", "RANK": str(index), "STIC_CHECKPOINT_DIR": str(work / "ckpt")},
        work_dir=work,
        index=index,
        gang_size=size,
        cpu_milli=500,
        strategy="PACK",
    )


async def wait_phase(executor: Executor, key: TaskKey, phase: Phase, limit_s: float = 60.0) -> None:
    deadline = time.monotonic() + limit_s
    while (status := await executor.status(key)).phase is not phase:
        assert time.monotonic() < deadline, status
        await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
def ray_cluster() -> object:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(params=sorted(EXECUTORS))
async def executor(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Executor]:
    if request.param == "ray":
        request.getfixturevalue("ray_cluster")
    built = create_executor(request.param, tmp_path / "state")
    yield built
    await built.release("job_gang")
    await built.close()


async def test_gang_runs_reports_progress_and_logs(executor: Executor, tmp_path: Path) -> None:
    code = "import os; print('rank', os.environ['RANK']); print('STIC_PROGRESS 7', flush=True)"
    keys = [TaskKey(f"tsk_{i}", 0) for i in range(2)]
    await executor.launch([launch(k, tmp_path / "job", code, i) for i, k in enumerate(keys)])
    await executor.launch([launch(k, tmp_path / "job", code, i) for i, k in enumerate(keys)])  # idempotent
    for i, key in enumerate(keys):
        await wait_phase(executor, key, Phase.EXITED)
        status = await executor.status(key)
        assert status.exit_code == 0 and status.progress == 7.0 and status.heartbeat_at is not None
        assert (await executor.logs(key, tail_bytes=4096)).splitlines()[0] == f"rank {i}"
        assert (await executor.metrics(key)).runtime_s is not None
    assert await executor.status(TaskKey("tsk_never", 0)) == type(await executor.status(keys[0]))(
        Phase.UNKNOWN
    )


async def test_failure_exit_code_and_stop(executor: Executor, tmp_path: Path) -> None:
    failing, sleeping = TaskKey("tsk_fail", 0), TaskKey("tsk_sleep", 0)
    await executor.launch(
        [
            launch(failing, tmp_path / "job", "import sys; sys.exit(4)", 0),
            launch(sleeping, tmp_path / "job", "import time; time.sleep(60)", 1),
        ]
    )
    await wait_phase(executor, failing, Phase.EXITED)
    assert (await executor.status(failing)).exit_code == 4
    await wait_phase(executor, sleeping, Phase.RUNNING)
    await executor.stop(sleeping)
    status = await executor.status(sleeping)
    assert status.phase in (Phase.EXITED, Phase.LOST) and status.exit_code != 0
