"""The handshake API inside a kernel app, with the kernel's real API keys and roles.

The app is built exactly as the gateway mounts the secure layer: a ServiceModule with the
router, the ``install_secure_gateway`` start-up hook and ``(SecureEnvelopeMiddleware, {})``.
SQLite only: the database is touched only by the kernel's authentication, which the kernel's
own tests run on both backends.
"""

from __future__ import annotations

import base64
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from prometheus_client import REGISTRY

from inference.gateway.secure import (
    CONTENT_TYPE,
    SecureEnvelopeMiddleware,
    SecureTransport,
    install_secure_gateway,
    router,
)
from inference.gateway.secure.settings import KEY_FILE_NAME
from security.crypto import SM2PrivateKey, SM2PublicKey
from services.iam.app import module as iam_module
from services.kernel.app import ServiceModule, create_service_app
from tests.conftest import PlatformDB, client_for, platform_settings
from tests.inference.gateway.secure.apps import echo_router
from tests.services.builders import TenantFixture, make_tenant, ok

pytestmark = [
    pytest.mark.parametrize("platform_db", ["sqlite"], indirect=True),
    pytest.mark.asyncio(loop_scope="module"),
]

SECURE_MODULE = ServiceModule(
    name="gateway-secure-test",
    title="Secure gateway test",
    routers=[router, echo_router()],
    on_startup=[install_secure_gateway],
    middleware=[(SecureEnvelopeMiddleware, {})],
)
BODY = {"model": "tiny", "messages": [{"role": "user", "content": "between us"}]}


@dataclass
class Kernel:
    app: FastAPI
    tenant: TenantFixture
    data_dir: Path


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def kernel(platform_db: PlatformDB, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Kernel]:
    tmp_path = tmp_path_factory.mktemp("secure-router")
    app = create_service_app(
        modules=[iam_module, SECURE_MODULE], settings=platform_settings(platform_db, data_dir=tmp_path)
    )
    app.state.seen = []
    async with app.router.lifespan_context(app):
        async with client_for(app, platform_db.admin_token) as admin:
            tenant = await make_tenant(admin, roles=("developer", "viewer", "tenant-admin"))
        yield Kernel(app, tenant, tmp_path)


def session_body(**overrides: str) -> dict[str, str]:
    key = SM2PrivateKey.generate().public_key().to_bytes()
    ephemeral = SM2PrivateKey.generate().public_key().to_bytes()
    body = {
        "client_public_key": base64.b64encode(key).decode(),
        "client_ephemeral": base64.b64encode(ephemeral).decode(),
    }
    body.update(overrides)
    return body


async def test_key_is_public_persisted_0600_and_pinnable(kernel: Kernel) -> None:
    async with client_for(kernel.app) as anonymous:
        info = await ok(await anonymous.get("/v1/secure/key"))
    path = kernel.data_dir / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    on_disk = SM2PrivateKey.from_pem(path.read_bytes()).public_key()
    served = SM2PublicKey.from_bytes(base64.b64decode(info["public_key"]))
    assert served == on_disk == SM2PublicKey.from_pem(info["public_key_pem"])
    assert info["fingerprint"] == on_disk.fingerprint()
    assert info["suite"] == "SM2-KEX+SM3-KDF+SM4-GCM" and info["replay_window"] >= 1


async def test_opening_a_session_needs_a_key_with_inference_use(kernel: Kernel) -> None:
    tokens = kernel.tenant.tokens
    async with client_for(kernel.app) as anonymous:
        assert (await anonymous.post("/v1/secure/sessions", json=session_body())).status_code == 401
    async with client_for(kernel.app, tokens["viewer"]) as viewer:
        denied = await viewer.post("/v1/secure/sessions", json=session_body())
    assert denied.status_code == 403 and denied.json()["detail"]["permission"] == "inference:use"
    async with client_for(kernel.app, tokens["developer"]) as developer:
        created = await ok(await developer.post("/v1/secure/sessions", json=session_body()), 201)
    assert created["session_id"].startswith("sess_")
    assert len(base64.b64decode(created["server_ephemeral"])) == 65
    assert len(base64.b64decode(created["confirmation"])) == 32


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"client_public_key": "%%%"}, "client_public_key"),
        ({"client_public_key": base64.b64encode(b"\x04" + b"\x02" * 64).decode()}, "client_public_key"),
        ({"client_ephemeral": base64.b64encode(b"\x04" + b"\x01" * 64).decode()}, "client_ephemeral"),
        ({"client_ephemeral": "not base64!"}, "client_ephemeral"),
    ],
)
async def test_bad_handshake_input_names_the_field(
    kernel: Kernel, override: dict[str, str], field: str
) -> None:
    async with client_for(kernel.app, kernel.tenant.tokens["developer"]) as developer:
        response = await developer.post("/v1/secure/sessions", json=session_body(**override))
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == {"field": field}


async def test_only_the_owning_key_can_close_a_session(kernel: Kernel) -> None:
    tokens = kernel.tenant.tokens
    async with (
        client_for(kernel.app, tokens["developer"]) as developer,
        client_for(kernel.app, tokens["tenant-admin"]) as other,
    ):
        sid = (await ok(await developer.post("/v1/secure/sessions", json=session_body()), 201))["session_id"]
        assert (await other.delete(f"/v1/secure/sessions/{sid}")).status_code == 404
        assert (await developer.delete(f"/v1/secure/sessions/{sid}")).status_code == 204
        assert (await developer.delete(f"/v1/secure/sessions/{sid}")).status_code == 404


async def test_end_to_end_through_the_kernel_and_sessions_are_bound_to_their_key(kernel: Kernel) -> None:
    tokens = kernel.tenant.tokens
    kernel.app.state.seen.clear()
    sessions = kernel.app.state.secure_gateway.sessions
    key_ids = await _key_ids(kernel)
    held = {role: sessions.count_for(key_id) for role, key_id in key_ids.items()}
    served = _chat_requests_metric()
    transport = SecureTransport(
        server_fingerprint=await _fingerprint(kernel), inner=httpx.ASGITransport(app=kernel.app)
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://stic.test/v1") as http:
        mine = await http.post(
            "/chat/completions", json=BODY, headers={"authorization": f"Bearer {tokens['developer']}"}
        )
        assert mine.status_code == 200 and mine.json()["echo"] == BODY
        # The same transport keeps a separate session per API key.
        theirs = await http.post(
            "/chat/completions", json=BODY, headers={"authorization": f"Bearer {tokens['tenant-admin']}"}
        )
        assert theirs.status_code == 200
    assert kernel.app.state.seen == [("application/json", BODY)] * 2
    for role in ("developer", "tenant-admin"):
        assert sessions.count_for(key_ids[role]) == held[role] + 1
    # The kernel's metrics still see the route template of encrypted requests.
    assert _chat_requests_metric() == served + 2


def _chat_requests_metric() -> float:
    labels = {"service": "allinone", "method": "POST", "route": "/v1/chat/completions", "status": "200"}
    return REGISTRY.get_sample_value("stic_http_requests_total", labels) or 0.0


async def _key_ids(kernel: Kernel) -> dict[str, str]:
    ids = {}
    for role in ("developer", "tenant-admin"):
        async with client_for(kernel.app, kernel.tenant.tokens[role]) as client:
            ids[role] = (await ok(await client.get("/v1/me")))["key_id"]
    return ids


async def test_a_session_used_with_another_key_is_refused(kernel: Kernel) -> None:
    tokens = kernel.tenant.tokens
    kernel.app.state.seen.clear()
    sealed = await _seal_like(kernel, tokens["developer"], await _fingerprint(kernel))
    # The developer's sealed request, replayed by a holder of another valid key of the tenant:
    # refused on the key binding before the replay window is even consulted.
    async with client_for(kernel.app, tokens["tenant-admin"]) as stranger:
        refused = await stranger.post(
            "/v1/chat/completions", content=sealed, headers={"content-type": CONTENT_TYPE}
        )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "envelope_session_forbidden"
    assert len(kernel.app.state.seen) == 1


async def _fingerprint(kernel: Kernel) -> str:
    async with client_for(kernel.app) as anonymous:
        return str((await ok(await anonymous.get("/v1/secure/key")))["fingerprint"])


async def _seal_like(kernel: Kernel, token: str, fingerprint: str) -> bytes:
    """A sealed request body as the transport puts it on the wire for ``token``."""
    wire: list[bytes] = []

    class Tap(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            inner = httpx.ASGITransport(app=kernel.app)
            if request.url.path == "/v1/chat/completions":
                wire.append(request.content)
            return await inner.handle_async_request(request)

    transport = SecureTransport(server_fingerprint=fingerprint, inner=Tap())
    async with httpx.AsyncClient(transport=transport, base_url="http://stic.test/v1") as http:
        await ok(
            await http.post("/chat/completions", json=BODY, headers={"authorization": f"Bearer {token}"})
        )
    return wire[0]
