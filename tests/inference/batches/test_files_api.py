"""/v1/files: upload (validated, sealed at rest), list, read, download, delete; tenancy."""

from __future__ import annotations

import httpx
import openai
from fastapi import FastAPI

from inference.batches.storage import FileStore
from security.crypto.sm3 import sm3_hex
from tests.conftest import client_for
from tests.inference.batches.conftest import jsonl, request_line, upload
from tests.services.builders import make_tenant, ok


async def test_upload_read_download_and_delete_a_sealed_file(
    batch_app: FastAPI, batch_admin: httpx.AsyncClient
) -> None:
    t = await make_tenant(batch_admin)
    content = jsonl([request_line("a"), request_line("b")])
    async with client_for(batch_app, t.tokens["developer"]) as dev:
        created = await ok(await upload(dev, content), 200)
        assert created["object"] == "file" and created["purpose"] == "batch"
        assert created["bytes"] == len(content) and created["filename"] == "input.jsonl"
        assert created["sm3"] == sm3_hex(content) and created["encrypted"] is True
        assert isinstance(created["created_at"], int)
        assert (await ok(await dev.get(f"/v1/files/{created['id']}"))) == created
        listed = await ok(await dev.get("/v1/files", params={"purpose": "batch"}))
        assert listed["object"] == "list" and [f["id"] for f in listed["data"]] == [created["id"]]
        download = await dev.get(f"/v1/files/{created['id']}/content")
        assert download.status_code == 200 and download.content == content
    store: FileStore = batch_app.state.batch_files
    at_rest = store.path(t.id, created["id"]).read_bytes()
    assert b"custom_id" not in at_rest and len(at_rest) == len(content) + 12 + 16  # nonce + tag
    assert (store.path(t.id, created["id"]).stat().st_mode & 0o777) == 0o600
    async with client_for(batch_app, t.tokens["viewer"]) as viewer:
        assert (await viewer.get(f"/v1/files/{created['id']}/content")).content == content
        refused = await viewer.delete(f"/v1/files/{created['id']}")
        assert refused.status_code == 403 and refused.json()["error"]["type"] == "permission_error"
    async with client_for(batch_app, t.tokens["developer"]) as dev:
        deleted = await ok(await dev.delete(f"/v1/files/{created['id']}"))
        assert deleted == {"id": created["id"], "object": "file", "deleted": True}
        assert (await dev.get(f"/v1/files/{created['id']}")).status_code == 404
    assert not store.path(t.id, created["id"]).exists()


async def test_tampered_content_is_not_served(batch_app: FastAPI, batch_admin: httpx.AsyncClient) -> None:
    t = await make_tenant(batch_admin, roles=("developer",))
    async with client_for(batch_app, t.tokens["developer"]) as dev:
        created = await ok(await upload(dev, jsonl([request_line("a")])), 200)
        path = batch_app.state.batch_files.path(t.id, created["id"])
        data = bytearray(path.read_bytes())
        data[20] ^= 1
        path.write_bytes(bytes(data))
        response = await dev.get(f"/v1/files/{created['id']}/content")
    assert response.status_code == 500 and response.json()["error"]["code"] == "file_unreadable"


async def test_invalid_batch_files_are_refused_naming_the_line(
    batch_app: FastAPI, batch_admin: httpx.AsyncClient
) -> None:
    t = await make_tenant(batch_admin, roles=("developer",))
    cases = {
        jsonl([request_line("a")]) + b"{oops\n": (
            "line 2",
            "line",
        ),
        jsonl([request_line("a"), request_line("b"), request_line("a")]): ("line 3", "custom_id"),
        jsonl([request_line("a"), request_line("b", url="/v1/moderations")]): ("line 2", "url"),
    }
    async with client_for(batch_app, t.tokens["developer"]) as dev:
        for content, (where, param) in cases.items():
            response = await upload(dev, content)
            assert response.status_code == 400, response.text
            error = response.json()["error"]
            assert error["message"].startswith(where) and error["param"] == param
            assert error["type"] == "invalid_request_error"
        assert (await upload(dev, b"x", purpose="nope")).json()["error"]["param"] == "purpose"
        no_form = await dev.post("/v1/files", json={"purpose": "batch"})
        assert no_form.status_code == 400 and no_form.json()["error"]["param"] == "file"
        assert (await ok(await dev.get("/v1/files")))["data"] == []


async def test_other_tenants_files_are_not_found(batch_app: FastAPI, batch_admin: httpx.AsyncClient) -> None:
    owner = await make_tenant(batch_admin, roles=("developer",))
    other = await make_tenant(batch_admin, roles=("tenant-admin",))
    async with client_for(batch_app, owner.tokens["developer"]) as dev:
        created = await ok(await upload(dev, jsonl([request_line("a")])), 200)
    async with client_for(batch_app, other.tokens["tenant-admin"]) as intruder:
        for method, path in (
            ("GET", f"/v1/files/{created['id']}"),
            ("GET", f"/v1/files/{created['id']}/content"),
            ("DELETE", f"/v1/files/{created['id']}"),
        ):
            response = await intruder.request(method, path)
            assert response.status_code == 404, (method, path, response.text)
        assert (await ok(await intruder.get("/v1/files")))["data"] == []
        no_key = await httpx.AsyncClient(
            transport=httpx.ASGITransport(app=batch_app), base_url="http://t"
        ).get("/v1/files")
        assert no_key.status_code == 401 and no_key.json()["error"]["type"] == "authentication_error"


async def test_openai_sdk_uploads_lists_and_downloads(
    batch_app: FastAPI, batch_admin: httpx.AsyncClient
) -> None:
    t = await make_tenant(batch_admin, roles=("developer",))
    content = jsonl([request_line("a"), request_line("b")])
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=batch_app))
    client = openai.AsyncOpenAI(
        base_url="http://stic.test/v1", api_key=t.tokens["developer"], http_client=http
    )
    async with client:
        created = await client.files.create(file=("input.jsonl", content), purpose="batch")
        assert created.object == "file" and created.bytes == len(content)
        page = await client.files.list()
        assert [f.id for f in page.data] == [created.id]
        assert (await client.files.content(created.id)).content == content
        try:
            await client.files.create(file=("bad.jsonl", b"{]\n"), purpose="batch")
            raise AssertionError("a bad file was accepted")
        except openai.BadRequestError as exc:
            assert exc.param == "line" and "line 1" in exc.message
        assert (await client.files.delete(created.id)).deleted is True


async def test_a_batch_file_larger_than_the_request_limit_is_an_upload(
    batch_app: FastAPI, batch_admin: httpx.AsyncClient
) -> None:
    settings = batch_app.state.settings
    padding = "x" * 400
    count = settings.max_body_bytes // 400 + 100
    content = jsonl([request_line(f"line-{i}", padding) for i in range(count)])
    assert settings.max_body_bytes < len(content) < settings.max_upload_bytes
    t = await make_tenant(batch_admin)
    async with client_for(batch_app, t.tokens["developer"]) as dev:
        created = await ok(await upload(dev, content), 200)
        assert created["bytes"] == len(content) and created["sm3"] == sm3_hex(content)
        # the same size on a route that is not an upload is still refused
        refused = await dev.post(
            "/v1/batches",
            content=b'{"x": "' + b"y" * len(content) + b'"}',
            headers={"content-type": "application/json"},
        )
        assert refused.status_code == 413
        assert refused.json()["detail"]["limit_bytes"] == settings.max_body_bytes
