"""A restarted control plane re-adopts the Ray tasks an earlier driver launched.

A real Ray cluster runs in a holder process (``ray.init`` there, kept alive until its stdin closes);
driver 1 launches a two-task gang through one :class:`RayExecutor` and exits; driver 2, a new
process with a new executor, must see the tasks running, start nothing twice, read their exit codes
when they finish, and release actors and placement group. Each driver is its own process, as a
restarted control plane is.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="the Ray executor is an optional extra")

PY = sys.executable
ROOT = Path(__file__).parents[3]
# the cluster is this test's own: a home without Ray's token file, so no process enforces a token,
# and a temp dir of its own, so a concurrent ``ray.init()`` elsewhere never mistakes it for its cluster
ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "HOME": tempfile.mkdtemp(prefix="stic-ray-home-")}

HOLDER = """
import sys, ray
ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=sys.argv[1])
print(ray.get_runtime_context().gcs_address, flush=True)
sys.stdin.read()
ray.shutdown()
"""

COMMON = """
import asyncio, json, sys, time
from pathlib import Path
import ray
from scheduler.executors.base import Phase, TaskKey, TaskLaunch
from scheduler.executors.ray import NAMESPACE, RayExecutor

address, root = sys.argv[1], Path(sys.argv[2])
KEYS = [TaskKey("tsk_a", 0), TaskKey("tsk_b", 0)]
GO = root / "go"  # the tasks run until driver 2 has looked at them, however slow the machine
CODE = (
    "import os, pathlib, sys, time; print('rank', os.environ['RANK'], flush=True); "
    "go = pathlib.Path(os.environ['GO']); "
    "[time.sleep(0.1) for _ in iter(go.exists, True)]; "
    "sys.exit(5 + int(os.environ['RANK']))"
)

def launches():
    return [
        TaskLaunch(key=k, gang="job_re", name=f"w-{i}", argv=(sys.executable, "-c", CODE),
                   env={"PATH": "/usr/bin:/bin", "RANK": str(i), "GO": str(GO)}, work_dir=root / "job",
                   index=i, gang_size=2, cpu_milli=100)
        for i, k in enumerate(KEYS)
    ]

def ours():
    named = ray.util.list_named_actors(all_namespaces=True)
    return sorted(a["name"] for a in named if a["namespace"] == NAMESPACE)

async def wait(executor, key, phase, limit_s=30):
    deadline = time.monotonic() + limit_s
    while (status := await executor.status(key)).phase is not phase:
        assert time.monotonic() < deadline, status
        await asyncio.sleep(0.1)
    return status
"""

DRIVER_1 = """
async def main():
    executor = RayExecutor(root / "state", init_kwargs={"address": address})
    await executor.launch(launches())
    for key in KEYS:
        await wait(executor, key, Phase.RUNNING)
    print(json.dumps({"detached": executor.detached, "actors": ours()}))
    await executor.close()

asyncio.run(main())
"""

DRIVER_2 = """
async def main():
    executor = RayExecutor(root / "state", init_kwargs={"address": address})
    before = [(await executor.status(k)).phase.value for k in KEYS]
    await executor.launch(launches())  # a restarted loop relaunching: must adopt, not start again
    actors = ours()
    GO.touch()
    codes = [(await wait(executor, k, Phase.EXITED)).exit_code for k in KEYS]
    logs = [await executor.logs(k, tail_bytes=100) for k in KEYS]
    group = ray.util.get_placement_group("stic-job_re")
    await executor.release("job_re")
    time.sleep(0.5)
    left = ours()
    try:
        ray.util.get_placement_group("stic-job_re")
        group_left = True
    except ValueError:
        group_left = False
    print(json.dumps({"before": before, "actors": actors, "codes": codes, "logs": logs,
                      "group_seen": group is not None, "left": left, "group_left": group_left}))

asyncio.run(main())
"""


def _python(code: str, *args: str, timeout: float = 60) -> dict:
    done = subprocess.run(
        [PY, "-c", textwrap.dedent(COMMON) + textwrap.dedent(code), *args],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture
def ray_head() -> Iterator[str]:
    temp_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray puts sockets under it
    holder = subprocess.Popen(
        [PY, "-c", HOLDER, temp_dir],
        env=ENV,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert holder.stdout is not None
        address = holder.stdout.readline().strip()
        assert address, "the Ray holder process printed no address"
        yield address
    finally:
        if holder.stdin is not None:
            holder.stdin.close()
        try:
            holder.wait(timeout=30)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait()
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_a_new_driver_readopts_running_tasks_and_reads_their_exit(ray_head: str, tmp_path: Path) -> None:
    first = _python(DRIVER_1, ray_head, str(tmp_path))
    assert first["detached"] is True
    assert first["actors"] == ["stic:job_re:tsk_a.0", "stic:job_re:tsk_b.0"]

    second = _python(DRIVER_2, ray_head, str(tmp_path))  # driver 1 has exited by now
    assert second["before"] == ["running", "running"]
    assert second["actors"] == first["actors"]  # nothing started twice
    assert second["codes"] == [5, 6]
    assert [log.splitlines()[0] for log in second["logs"]] == ["rank 0", "rank 1"]
    assert second["group_seen"] is True
    assert second["left"] == [] and second["group_left"] is False
    pids = [json.loads(p.read_text())["child"] for p in sorted((tmp_path / "state").glob("*/pid.json"))]
    assert len(pids) == 2  # each task ran once
