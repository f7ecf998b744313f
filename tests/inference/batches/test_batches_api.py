"""/v1/batches: validation, submission as a scheduler job, exactly-once results, finalisation,
cancel and expiry — the controller is ticked by hand, results are reported with the runner key."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from inference.batches.models import BatchRow
from scheduler.service.models import JobRow
from services.kernel.db import utcnow
from services.kernel.identity import RoleBinding, ServiceAccount
from tests.conftest import client_for
from tests.inference.batches.conftest import controller_of, jsonl, request_line, upload
from tests.services.builders import TenantFixture, make_tenant, ok

CHAT = "/v1/chat/completions"


async def _batch(app: FastAPI, t: TenantFixture, lines: int = 3, **extra: Any) -> dict[str, Any]:
    async with client_for(app, t.tokens["developer"]) as dev:
        file = await ok(await upload(dev, jsonl([request_line(f"req-{i}") for i in range(lines)])), 200)
        body = {"input_file_id": file["id"], "endpoint": CHAT, "completion_window": "24h", **extra}
        return await ok(await dev.post("/v1/batches", json=body), 200)


async def _get(app: FastAPI, t: TenantFixture, batch_id: str) -> dict[str, Any]:
    async with client_for(app, t.tokens["viewer"]) as viewer:
        return await ok(await viewer.get(f"/v1/batches/{batch_id}"))


async def _update(app: FastAPI, model: Any, row_id: str, **values: Any) -> None:
    async with app.state.database.sessionmaker() as session:
        row = await session.get(model, row_id)
        for name, value in values.items():
            setattr(row, name, value)
        await session.commit()


def _runner_folder(app: FastAPI, batch_id: str) -> Path:
    folder: Path = app.state.batch_options.work_dir / batch_id
    return folder


def _runner_token(app: FastAPI, batch_id: str) -> str:
    (path,) = _runner_folder(app, batch_id).glob("runner-*.key")
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    return path.read_text()


def _answer(custom_id: str, line: int, text: str = "hi") -> dict[str, Any]:
    body = {
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
    }
    return {"custom_id": custom_id, "line": line, "status_code": 200, "request_id": f"r-{line}", "body": body}


async def _download(app: FastAPI, t: TenantFixture, file_id: str) -> list[dict[str, Any]]:
    async with client_for(app, t.tokens["viewer"]) as viewer:
        response = await viewer.get(f"/v1/files/{file_id}/content")
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines()]


async def test_batch_requests_are_validated(batch_app: FastAPI, batch_admin: httpx.AsyncClient) -> None:
    t = await make_tenant(batch_admin)
    async with client_for(batch_app, t.tokens["developer"]) as dev:
        file = await ok(
            await upload(dev, jsonl([request_line("a"), request_line("b", url="/v1/embeddings")])), 200
        )
        other = await ok(await upload(dev, b"notes", purpose="user_data"), 200)
        cases = [
            ({"input_file_id": file["id"], "endpoint": "/v1/images"}, 400, "endpoint"),
            ({"input_file_id": file["id"], "endpoint": CHAT}, 400, "endpoint"),  # line 2 is an embedding
            ({"input_file_id": other["id"], "endpoint": CHAT}, 400, "input_file_id"),
            ({"input_file_id": "file_" + "0" * 32, "endpoint": CHAT}, 404, "input_file_id"),
            (
                {"input_file_id": file["id"], "endpoint": CHAT, "completion_window": "1h"},
                400,
                "completion_window",
            ),
            (
                {"input_file_id": file["id"], "endpoint": CHAT, "metadata": {"project_id": "prj_x"}},
                400,
                "metadata",
            ),
            ({"endpoint": CHAT}, 400, "input_file_id"),
        ]
        for body, status, param in cases:
            response = await dev.post("/v1/batches", json=body)
            assert response.status_code == status, (body, response.text)
            assert response.json()["error"]["param"] == param, (body, response.text)
        mismatch = await dev.post("/v1/batches", json={"input_file_id": file["id"], "endpoint": CHAT})
        assert mismatch.json()["error"]["message"].startswith("line 2:")
    async with client_for(batch_app, t.tokens["viewer"]) as viewer:
        denied = await viewer.post("/v1/batches", json={"input_file_id": file["id"], "endpoint": CHAT})
        assert denied.status_code == 403
    outsider = await make_tenant(batch_admin, roles=("developer",))
    async with client_for(batch_app, outsider.tokens["developer"]) as intruder:
        response = await intruder.post(
            "/v1/batches", json={"input_file_id": file["id"], "endpoint": "/v1/embeddings"}
        )
        assert response.status_code == 404


async def test_batch_runs_as_a_job_and_records_each_result_once(
    batch_app: FastAPI, batch_admin: httpx.AsyncClient
) -> None:
    t = await make_tenant(batch_admin)
    created = await _batch(batch_app, t, metadata={"purpose": "nightly"})
    assert created["status"] == "validating" and created["request_counts"] == {
        "total": 3,
        "completed": 0,
        "failed": 0,
    }
    assert created["project_id"] == t.project_id and created["metadata"] == {"purpose": "nightly"}
    assert created["expires_at"] - created["created_at"] == 24 * 3600
    await controller_of(batch_app).tick()
    batch = await _get(batch_app, t, created["id"])
    assert batch["status"] == "in_progress" and batch["in_progress_at"] and batch["job_id"]
    token = _runner_token(batch_app, created["id"])
    async with batch_app.state.database.sessionmaker() as session:
        job = await session.get(JobRow, batch["job_id"])
        assert job is not None and job.type == "batch" and job.project_id == t.project_id
        assert token not in json.dumps(job.spec), "the runner's token must not be in the job spec"
        assert "inference.batches.worker" in job.spec["groups"][0]["command"]
        account = (
            await session.execute(select(ServiceAccount).where(ServiceAccount.tenant_id == t.id))
        ).scalar_one()
        binding = (
            await session.execute(select(RoleBinding).where(RoleBinding.principal_id == account.id))
        ).scalar_one()
        assert (binding.role, binding.project_id) == ("developer", t.project_id)

    async with client_for(batch_app, token) as runner:
        pending = await runner.get(f"/v1/batches/{created['id']}/pending")
        assert pending.status_code == 200 and pending.headers["x-batch-status"] == "in_progress"
        assert [json.loads(x)["custom_id"] for x in pending.text.splitlines()] == ["req-0", "req-1", "req-2"]
        failed = {"custom_id": "req-1", "line": 2, "status_code": 500, "body": {"error": {"message": "boom"}}}
        first = await ok(
            await runner.post(
                f"/v1/batches/{created['id']}/results", json={"results": [_answer("req-0", 1), failed]}
            )
        )
        assert (first["recorded"], first["duplicates"]) == (2, 0)
        assert first["request_counts"] == {"total": 3, "completed": 1, "failed": 1}
        again = [_answer("req-0", 1, "second answer"), _answer("req-2", 3), _answer("req-2", 3)]
        second = await ok(await runner.post(f"/v1/batches/{created['id']}/results", json={"results": again}))
        assert (second["recorded"], second["duplicates"]) == (1, 2)
        pending = await runner.get(f"/v1/batches/{created['id']}/pending")
        assert pending.text == ""
    async with client_for(batch_app, t.tokens["developer"]) as dev:
        response = await dev.post(
            f"/v1/batches/{created['id']}/results", json={"results": [_answer("req-0", 1)]}
        )
        assert response.status_code == 403
        assert (await dev.get(f"/v1/batches/{created['id']}/pending")).status_code == 403
    assert (await _get(batch_app, t, created["id"]))["request_counts"] == {
        "total": 3,
        "completed": 2,
        "failed": 1,
    }

    await _update(batch_app, JobRow, batch["job_id"], state="completed")
    await controller_of(batch_app).tick()
    done = await _get(batch_app, t, created["id"])
    assert done["status"] == "completed" and done["completed_at"] and done["finalizing_at"]
    assert done["request_counts"] == {"total": 3, "completed": 2, "failed": 1}
    output = await _download(batch_app, t, done["output_file_id"])
    assert [line["custom_id"] for line in output] == ["req-0", "req-2"]
    assert output[0]["response"]["body"]["choices"][0]["message"]["content"] == "hi"  # the first report won
    assert output[0]["response"]["status_code"] == 200 and output[0]["error"] is None
    errors = await _download(batch_app, t, done["error_file_id"])
    assert [(e["custom_id"], e["error"]["code"]) for e in errors] == [("req-1", "http_500")]
    assert not _runner_folder(batch_app, created["id"]).exists()
    async with client_for(batch_app, token) as runner:  # the runner's account is gone with the batch
        assert (await runner.get(f"/v1/batches/{created['id']}/pending")).status_code == 401
    await controller_of(batch_app).tick()  # finalised once: nothing changes
    assert (await _get(batch_app, t, created["id"]))["output_file_id"] == done["output_file_id"]
    async with client_for(batch_app, t.tokens["viewer"]) as viewer:
        outputs = await ok(await viewer.get("/v1/files", params={"purpose": "batch_output"}))
    assert len(outputs["data"]) == 2


async def test_cancel_stops_the_job_and_keeps_what_is_done(
    batch_app: FastAPI, batch_admin: httpx.AsyncClient
) -> None:
    t = await make_tenant(batch_admin)
    created = await _batch(batch_app, t)
    await controller_of(batch_app).tick()
    token = _runner_token(batch_app, created["id"])
    async with client_for(batch_app, token) as runner:
        await ok(
            await runner.post(f"/v1/batches/{created['id']}/results", json={"results": [_answer("req-1", 2)]})
        )
    async with client_for(batch_app, t.tokens["developer"]) as dev:
        cancelling = await ok(await dev.post(f"/v1/batches/{created['id']}/cancel"))
        assert cancelling["status"] == "cancelling" and cancelling["cancelling_at"]
        assert (await ok(await dev.post(f"/v1/batches/{created['id']}/cancel")))["status"] == "cancelling"
    async with client_for(batch_app, token) as runner:  # the worker learns it must stop
        late = await ok(
            await runner.post(f"/v1/batches/{created['id']}/results", json={"results": [_answer("req-2", 3)]})
        )
        assert late["status"] == "cancelling"
        assert (await runner.get(f"/v1/batches/{created['id']}/pending")).text == ""
    await controller_of(batch_app).tick()
    async with batch_app.state.database.sessionmaker() as session:
        job = await session.get(JobRow, created_job := (await _get(batch_app, t, created["id"]))["job_id"])
        assert job is not None and job.state == "cancelled", created_job
    await controller_of(batch_app).tick()
    done = await _get(batch_app, t, created["id"])
    assert done["status"] == "cancelled" and done["cancelled_at"]
    assert done["request_counts"] == {"total": 3, "completed": 2, "failed": 0}
    assert [x["custom_id"] for x in await _download(batch_app, t, done["output_file_id"])] == [
        "req-1",
        "req-2",
    ]
    assert done["error_file_id"] is None
    async with client_for(batch_app, t.tokens["developer"]) as dev:
        assert (await dev.post(f"/v1/batches/{created['id']}/cancel")).status_code == 200  # idempotent
        file_id = done["input_file_id"]
        assert (await dev.delete(f"/v1/files/{file_id}")).status_code == 200


async def test_cancel_before_submission_and_input_file_in_use(
    batch_app: FastAPI, batch_admin: httpx.AsyncClient
) -> None:
    t = await make_tenant(batch_admin)
    created = await _batch(batch_app, t)
    async with client_for(batch_app, t.tokens["developer"]) as dev:
        busy = await dev.delete(f"/v1/files/{created['input_file_id']}")
        assert busy.status_code == 409 and busy.json()["error"]["param"] == "file_id"
        await ok(await dev.post(f"/v1/batches/{created['id']}/cancel"))
    await controller_of(batch_app).tick()
    done = await _get(batch_app, t, created["id"])
    assert done["status"] == "cancelled" and done["job_id"] is None and done["output_file_id"] is None
    async with client_for(batch_app, t.tokens["developer"]) as dev:
        refused = await dev.post(f"/v1/batches/{created['id']}/cancel")
        assert refused.status_code == 200
        completed = await _batch(batch_app, t)
        await _update(batch_app, BatchRow, completed["id"], status="completed")
        assert (await dev.post(f"/v1/batches/{completed['id']}/cancel")).status_code == 409


async def test_expired_batch_reports_the_lines_never_run(
    batch_app: FastAPI, batch_admin: httpx.AsyncClient
) -> None:
    t = await make_tenant(batch_admin)
    created = await _batch(batch_app, t)
    await controller_of(batch_app).tick()
    async with client_for(batch_app, _runner_token(batch_app, created["id"])) as runner:
        await ok(
            await runner.post(f"/v1/batches/{created['id']}/results", json={"results": [_answer("req-0", 1)]})
        )
    await _update(batch_app, BatchRow, created["id"], expires_at=utcnow() - timedelta(seconds=1))
    await controller_of(batch_app).tick()  # cancels the job
    await controller_of(batch_app).tick()  # finalises
    done = await _get(batch_app, t, created["id"])
    assert done["status"] == "expired" and done["expired_at"]
    assert done["request_counts"] == {"total": 3, "completed": 1, "failed": 2}
    errors = await _download(batch_app, t, done["error_file_id"])
    assert [(e["custom_id"], e["error"]["code"]) for e in errors] == [
        ("req-1", "batch_expired"),
        ("req-2", "batch_expired"),
    ]


async def test_batches_are_listed_per_tenant_with_a_cursor(
    batch_app: FastAPI, batch_admin: httpx.AsyncClient
) -> None:
    t = await make_tenant(batch_admin)
    ids = [(await _batch(batch_app, t, lines=1))["id"] for _ in range(3)]
    async with client_for(batch_app, t.tokens["viewer"]) as viewer:
        first = await ok(await viewer.get("/v1/batches", params={"limit": 2}))
        assert [b["id"] for b in first["data"]] == ids[::-1][:2] and first["has_more"] is True
        rest = await ok(await viewer.get("/v1/batches", params={"limit": 2, "after": first["last_id"]}))
        assert [b["id"] for b in rest["data"]] == [ids[0]] and rest["has_more"] is False
        assert (await viewer.get("/v1/batches", params={"after": "bat_nope"})).status_code == 400
    outsider = await make_tenant(batch_admin, roles=("tenant-admin",))
    async with client_for(batch_app, outsider.tokens["tenant-admin"]) as intruder:
        assert (await ok(await intruder.get("/v1/batches")))["data"] == []
        assert (await intruder.get(f"/v1/batches/{ids[0]}")).status_code == 404
        assert (await intruder.post(f"/v1/batches/{ids[0]}/cancel")).status_code == 404
        response = await intruder.post(f"/v1/batches/{ids[0]}/results", json={"results": [_answer("x", 1)]})
        assert response.status_code == 404
        assert (await intruder.get(f"/v1/batches/{ids[0]}/pending")).status_code == 404


async def test_submission_refused_by_quota_fails_the_batch_and_leaves_no_credential(
    batch_app: FastAPI, batch_admin: httpx.AsyncClient
) -> None:
    t = await make_tenant(batch_admin)
    await ok(await batch_admin.put(f"/v1/tenants/{t.id}/quota", json={"limits": {"cpu_millicores": 100}}))
    created = await _batch(batch_app, t)
    await controller_of(batch_app).tick()
    done = await _get(batch_app, t, created["id"])
    assert done["status"] == "failed" and done["failed_at"] and done["job_id"] is None
    assert done["errors"]["data"][0]["code"] == "quota_exceeded"
    assert not _runner_folder(batch_app, created["id"]).exists()
    async with batch_app.state.database.sessionmaker() as session:
        accounts = (
            await session.execute(select(ServiceAccount).where(ServiceAccount.tenant_id == t.id))
        ).all()
    assert accounts == []


async def test_reports_beyond_the_input_are_refused(
    batch_app: FastAPI, batch_admin: httpx.AsyncClient
) -> None:
    t = await make_tenant(batch_admin)
    created = await _batch(batch_app, t, lines=2)
    await controller_of(batch_app).tick()
    async with client_for(batch_app, _runner_token(batch_app, created["id"])) as runner:
        response = await runner.post(
            f"/v1/batches/{created['id']}/results", json={"results": [_answer("req-9", 3)]}
        )
    assert response.status_code == 400 and response.json()["error"]["param"] == "results"
    assert (await _get(batch_app, t, created["id"]))["request_counts"]["completed"] == 0
