"""Fixtures for the batch service: an app whose loops are driven by the test, and JSONL helpers.

``batch_app`` composes IAM, quotas, the scheduler, the KMS and the batch service on
``isolated_db`` (both databases; never the shared ``platform_db``, whose scheduling loop would
launch the jobs left pending here) with the scheduling loop and the batch controller switched
off: tests call :meth:`BatchController.tick` themselves, so no worker process is started.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from inference.batches.controller import BatchController
from inference.batches.options import BatchOptions
from scheduler.service.options import SchedulerOptions
from services.allinone import load_module
from services.kernel.app import create_service_app
from services.kms.app import KmsSettings
from tests.conftest import TEST_KMS_ROOT_KEY, PlatformDB, client_for, platform_settings

MODULES = ("iam", "quotas", "scheduler", "kms", "batches")


def request_line(
    custom_id: str, content: str = "hello", *, url: str = "/v1/chat/completions", max_tokens: int = 4
) -> dict[str, Any]:
    """One batch request line for the chat endpoint (or ``url``)."""
    if url == "/v1/embeddings":
        body: dict[str, Any] = {"model": "tiny-test", "input": content}
    elif url == "/v1/completions":
        body = {"model": "tiny-test", "prompt": content, "max_tokens": max_tokens, "temperature": 0}
    else:
        body = {
            "model": "tiny-test",
            "messages": [{"role": "user", "content": content}],
            "max_tokens": max_tokens,
            "temperature": 0,
        }
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": body}


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    """Lines as JSON Lines bytes."""
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


async def upload(client: httpx.AsyncClient, content: bytes, *, purpose: str = "batch") -> httpx.Response:
    """``POST /v1/files`` as a multipart form, like the OpenAI SDK sends it."""
    return await client.post(
        "/v1/files", files={"file": ("input.jsonl", content, "application/jsonl")}, data={"purpose": purpose}
    )


@pytest.fixture
async def batch_app(isolated_db: PlatformDB, tmp_path: Path) -> AsyncIterator[FastAPI]:
    """The batch service with its collaborators, loops off (see module docs)."""
    modules = [load_module(name) for name in MODULES]
    app = create_service_app(modules=modules, settings=platform_settings(isolated_db))
    app.state.kms_settings = KmsSettings(root_key=TEST_KMS_ROOT_KEY)
    app.state.scheduler_options = SchedulerOptions(work_dir=tmp_path / "scheduler", enabled=False)
    app.state.batch_options = BatchOptions(
        enabled=False,
        work_dir=tmp_path / "batches",
        files_dir=tmp_path / "files",
        control_url="http://control.test",
        inference_url="http://inference.test/v1",
    )
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def batch_admin(batch_app: FastAPI, isolated_db: PlatformDB) -> AsyncIterator[httpx.AsyncClient]:
    """The bootstrap platform administrator on ``batch_app``."""
    async with client_for(batch_app, isolated_db.admin_token) as client:
        yield client


def controller_of(app: FastAPI) -> BatchController:
    """The app's batch controller (driven by hand in tests)."""
    controller: BatchController = app.state.batch_controller
    return controller
