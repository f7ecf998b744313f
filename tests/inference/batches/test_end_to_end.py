"""Batches end to end on a real ``stic up`` (SQLite): the official OpenAI SDK uploads and creates,
the scheduler runs the worker against a builtin-engine replica, and outputs match the replica.
A worker killed mid-batch, and a control plane restarted mid-batch, still give each line once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from inference.engines.base import Replica
from services.kernel.auth import issue_key
from tests.conftest import TEST_SECRET
from tests.inference.batches.conftest import jsonl, request_line
from tests.services.builders import TenantFixture, make_tenant
from tests.services.server import STIC, free_port

KMS_ROOT_KEY = secrets.token_hex(32)

TERMINAL = ("completed", "failed", "expired", "cancelled")


@dataclass
class Platform:
    """A running ``stic up`` and how to restart it on the same database and data folder."""

    port: int
    admin_token: str
    key_file: Path
    database_url: str


@pytest.fixture(scope="module")
def server_env(
    builtin_replica: Replica, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """Environment for ``stic up``: fast loops, one request at a time per worker, the replica as upstream."""
    env = {
        "STIC_BATCHES_INFERENCE_URL": builtin_replica.api_base,
        "STIC_BATCHES_TICK_S": "0.2",
        "STIC_BATCHES_WORKER_CONCURRENCY": "1",
        "STIC_SCHEDULER_TICK_S": "0.1",
        "STIC_SCHEDULER_CYCLE_S": "0.2",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        yield env


def _processes_under(folder: Path) -> list[int]:
    """Processes whose command line mentions ``folder`` (task runners and workers of this test)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(folder).encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


@pytest.fixture
def platform(server_env: dict[str, str], tmp_path: Path) -> Iterator[Platform]:
    """Paths and a fixed port for a fresh platform (started by the test); its tasks are killed after."""
    key_file = tmp_path / "bootstrap.key"
    key_file.write_text(issue_key(secret=TEST_SECRET).token)
    yield Platform(free_port(), key_file.read_text(), key_file, f"sqlite+aiosqlite:///{tmp_path / 'stic.db'}")
    for pid in _processes_under(tmp_path):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def _up(platform: Platform) -> Iterator[str]:
    """``stic up`` on the platform's port (the same across restarts: workers report to that URL)."""
    env = {
        **os.environ,
        "STIC_DATABASE_URL": platform.database_url,
        "STIC_SECRET_KEY": TEST_SECRET,
        "STIC_ENVIRONMENT": "test",
        "STIC_BOOTSTRAP_KEY_FILE": str(platform.key_file),
        "STIC_DATA_DIR": str(platform.key_file.parent),
        "STIC_KMS_ROOT_KEY": KMS_ROOT_KEY,
    }
    url = f"http://127.0.0.1:{platform.port}"
    log_path = platform.key_file.parent / "stic-up.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [STIC, "up", "--port", str(platform.port)], env=env, stdout=log, stderr=log
        )
        try:
            deadline = time.monotonic() + 90
            while True:
                assert process.poll() is None, f"stic up exited: {log_path.read_text()[-2000:]}"
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                        break
                assert time.monotonic() < deadline, f"stic up is not ready: {log_path.read_text()[-2000:]}"
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def _tenant(url: str, admin_token: str) -> TenantFixture:
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {admin_token}"}) as admin:
        return await make_tenant(admin, roles=("developer",))


def _wait(client: openai.OpenAI, batch_id: str, *, until: Any, timeout_s: float = 240.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        batch = client.batches.retrieve(batch_id)
        if until(batch):
            return batch
        assert batch.status not in TERMINAL, f"batch ended as {batch.status}: {batch.errors}"
        assert time.monotonic() < deadline, f"batch still {batch.status} {batch.request_counts}"
        time.sleep(0.3)


def _output(client: openai.OpenAI, file_id: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in client.files.content(file_id).text.splitlines()]


def _worker_pids(batch_id: str) -> list[int]:
    """Worker processes of the batch (not their runner wrappers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[1:3] == [b"-m", b"inference.batches.worker"] and batch_id.encode() in argv:
            pids.append(int(entry.name))
    return pids


def _submit(client: openai.OpenAI, lines: list[dict[str, Any]]) -> str:
    file = client.files.create(file=("requests.jsonl", jsonl(lines)), purpose="batch")
    batch = client.batches.create(
        input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert batch.status == "validating" and batch.request_counts is not None
    return batch.id


def _assert_each_line_once(
    client: openai.OpenAI, batch: Any, lines: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    assert batch.status == "completed", batch
    assert batch.request_counts.total == len(lines) and batch.request_counts.completed == len(lines)
    assert batch.error_file_id is None
    output = _output(client, batch.output_file_id)
    assert sorted(o["custom_id"] for o in output) == sorted(line["custom_id"] for line in lines)
    return output


async def test_openai_sdk_batch_completes_with_the_replicas_answers(
    platform: Platform,
    builtin_replica: Replica,
) -> None:
    lines = [request_line(f"q{i}", f"tell me about {word}") for i, word in enumerate(("cats", "rain", "tea"))]
    lines.append(
        request_line("q3", "count", url="/v1/chat/completions")
        | {"body": {**lines[0]["body"], "max_tokens": 2}}
    )
    with _up(platform) as url:
        t = await _tenant(url, platform.admin_token)
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=t.tokens["developer"], max_retries=0)
        batch_id = _submit(client, lines)
        done = _wait(client, batch_id, until=lambda b: b.status in TERMINAL)
        output = _assert_each_line_once(client, done, lines)
        assert [b.id for b in client.batches.list().data] == [batch_id]
    async with httpx.AsyncClient(base_url=builtin_replica.api_base) as direct:
        for result in output:
            body = next(line["body"] for line in lines if line["custom_id"] == result["custom_id"])
            expected = (await direct.post("/chat/completions", json=body)).json()
            got = result["response"]["body"]
            assert result["response"]["status_code"] == 200
            assert got["choices"][0]["message"]["content"] == expected["choices"][0]["message"]["content"]
            assert got["usage"] == expected["usage"]


async def test_killed_worker_resumes_and_each_line_is_recorded_once(platform: Platform) -> None:
    lines = [request_line(f"k{i}", f"story number {i}", max_tokens=64) for i in range(24)]
    with _up(platform) as url:
        t = await _tenant(url, platform.admin_token)
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=t.tokens["developer"], max_retries=0)
        batch_id = _submit(client, lines)
        _wait(client, batch_id, until=lambda b: b.request_counts.completed >= 1, timeout_s=120)
        pids = _worker_pids(batch_id)
        assert len(pids) == 1, pids
        os.kill(pids[0], signal.SIGKILL)
        killed_at = client.batches.retrieve(batch_id).request_counts.completed
        assert killed_at < len(lines), "the batch finished before the worker could be killed"
        done = _wait(client, batch_id, until=lambda b: b.status in TERMINAL)
        _assert_each_line_once(client, done, lines)
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {platform.admin_token}"}
        ) as admin:
            job_path = f"/v1/tenants/{t.id}/jobs/{done.model_extra['job_id']}"
            job = (await admin.get(job_path)).json()
            resumed = (await admin.get(f"{job_path}/tasks/worker-0/logs", params={"attempt": 1})).json()
        assert job["retries"] >= 1 and job["state"] == "completed", job
        # the restarted worker was given only the lines without a recorded result
        todo = int(re.search(r"in_progress, (\d+) line\(s\) to do", resumed["content"]).group(1))  # type: ignore[union-attr]
        assert todo <= len(lines) - killed_at, resumed["content"]


async def test_control_plane_restart_mid_batch_finishes_exactly_once(platform: Platform) -> None:
    lines = [request_line(f"r{i}", f"poem {i}", max_tokens=64) for i in range(24)]
    with _up(platform) as url:
        t = await _tenant(url, platform.admin_token)
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=t.tokens["developer"], max_retries=0)
        batch_id = _submit(client, lines)
        _wait(client, batch_id, until=lambda b: b.request_counts.completed >= 1, timeout_s=120)
    await asyncio.sleep(1.0)  # the worker keeps running and retries its reports while the platform is down
    assert _worker_pids(batch_id), "the worker should outlive the control plane"
    with _up(platform) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=t.tokens["developer"], max_retries=0)
        done = _wait(client, batch_id, until=lambda b: b.status in TERMINAL)
        _assert_each_line_once(client, done, lines)
