"""The submission-paths probe runs the real ``stic job`` CLI, and fails when the CLI path is broken."""

from __future__ import annotations

import json
import sys
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from scheduler.service.probes_submission import SubmissionPathsProbe
from services.assessment.probes.base import ProbeContext, ProbeFailure, ProbeResult
from services.assessment.status import Status
from tests.conftest import PlatformDB


async def _run(probe: SubmissionPathsProbe, app: Any, token: str) -> ProbeResult:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://stic.test") as client:
        return await probe.run(ProbeContext(client=client, admin_key=token))


class RejectCliSubmissions:
    """Answers 422 to the job submission the probe makes with the CLI (its job is named
    ``probe-cli-…``) and passes everything else, the API's submission included, to ``app``."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.rejected = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].endswith("/jobs"):
            await self.app(scope, receive, send)
            return
        messages = [await receive()]
        while messages[-1].get("more_body"):
            messages.append(await receive())
        document = json.loads(b"".join(m.get("body", b"") for m in messages) or b"{}")
        if str(document.get("name", "")).startswith("probe-cli-"):
            self.rejected += 1
            await send({"type": "http.response.start", "status": 422, "headers": []})
            await send({"type": "http.response.body", "body": b'{"error":"rejected by the test"}'})
            return
        replay = iter(messages)

        async def replayed() -> Message:
            return next(replay, {"type": "http.disconnect"})

        await self.app(scope, replayed, send)


@pytest.mark.parametrize("platform_db", ["sqlite"], indirect=True)  # test_probes.py runs it on both
async def test_the_probe_passes_and_notes_the_cli_and_the_missing_console(
    platform_app: FastAPI, platform_db: PlatformDB
) -> None:
    result = await _run(SubmissionPathsProbe(), platform_app, platform_db.admin_token)
    assert result.status in (Status.VERIFIED, Status.SIMULATED), result.message
    assert "no web console is built" in result.message
    notes = [e for e in result.evidence if e.kind == "note"]
    assert any("loopback bridge" in e.summary for e in notes)
    runs = [e.details["command"] for e in notes if e.summary == "CLI run"]
    assert [c.split()[2] for c in runs] == ["submit", "list", "get", "get", "delete", "list"]
    assert all(e.details["exit_code"] == 0 for e in notes if e.summary == "CLI run")


@pytest.mark.parametrize("platform_db", ["sqlite"], indirect=True)  # the breakage is not in the DB
async def test_a_cli_that_exits_non_zero_fails_the_probe(
    platform_app: FastAPI, platform_db: PlatformDB
) -> None:
    probe = SubmissionPathsProbe()
    probe.cli = (sys.executable, "-c", "import sys; print('broken', file=sys.stderr); sys.exit(3)")
    with pytest.raises(ProbeFailure, match="exited with 3"):
        await _run(probe, platform_app, platform_db.admin_token)


@pytest.mark.parametrize("platform_db", ["sqlite"], indirect=True)  # the breakage is not in the DB
async def test_a_submission_the_api_rejects_fails_the_probe(
    platform_app: FastAPI, platform_db: PlatformDB
) -> None:
    probe = SubmissionPathsProbe()
    broken = RejectCliSubmissions(platform_app)
    with pytest.raises(ProbeFailure, match="exited with 1"):
        await _run(probe, broken, platform_db.admin_token)
    assert broken.rejected == 1
