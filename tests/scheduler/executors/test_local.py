"""Local executor specifics: a new executor re-adopts tasks started by a previous one."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from scheduler.executors.base import Phase, TaskKey
from scheduler.executors.local import LocalExecutor
from tests.scheduler.executors.test_protocol import launch, wait_phase


async def test_restarted_executor_adopts_running_task_and_does_not_relaunch(tmp_path: Path) -> None:
    key = TaskKey("tsk_adopt", 0)
    first = LocalExecutor(tmp_path / "state")
    task = launch(key, tmp_path / "job", "import time; time.sleep(0.6); print('once')")
    await first.launch([task])
    await wait_phase(first, key, Phase.RUNNING)
    await first.close()
    second = LocalExecutor(tmp_path / "state")
    assert (await second.status(key)).phase is Phase.RUNNING
    await second.launch([task])
    await wait_phase(second, key, Phase.EXITED)
    assert (await second.logs(key, tail_bytes=100)) == "once\n"
    await second.close()


async def test_missing_command_exits_127_with_the_reason_in_the_log(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path / "state")
    key = TaskKey("tsk_missing", 0)
    task = replace(launch(key, tmp_path / "job", ""), argv=("/no/such/binary",))
    await executor.launch([task])
    await wait_phase(executor, key, Phase.EXITED)
    assert (await executor.status(key)).exit_code == 127
    assert "cannot start" in await executor.logs(key, tail_bytes=1000)
    await executor.close()


async def test_metrics_report_the_io_counters_of_the_task_process(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path / "state")
    key = TaskKey("tsk_io", 0)
    script = "import sys, time\nsys.stdout.write('x' * 200_000); sys.stdout.flush()\ntime.sleep(30)\n"
    await executor.launch([launch(key, tmp_path / "job", script)])
    await wait_phase(executor, key, Phase.RUNNING)
    try:
        for _ in range(100):  # until the write has happened
            extra = (await executor.metrics(key)).extra
            if extra.get("io_wchar", 0) >= 200_000:
                break
            await asyncio.sleep(0.05)
        assert set(extra) == {"io_rchar", "io_wchar", "io_read_bytes", "io_write_bytes"}
        assert extra["io_wchar"] >= 200_000
    finally:
        await executor.stop(key)
        await executor.close()
