"""Local executor specifics: a new executor re-adopts tasks started by a previous one."""

from __future__ import annotations

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
