"""The ``stic`` command line: admin commands, version, and real ``stic up`` / ``stic serve``."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from services.cli.main import app
from services.kernel.auth import issue_key
from services.kernel.version import VERSION
from tests.conftest import TEST_SECRET, fresh_database
from tests.services.server import STIC, stic_up

runner = CliRunner()


def _env(url: str) -> dict[str, str]:
    return {"STIC_DATABASE_URL": url, "STIC_SECRET_KEY": TEST_SECRET, "STIC_ENVIRONMENT": "test"}


def test_version() -> None:
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0 and result.stdout.strip() == VERSION


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_admin_commands_create_tenant_user_key_and_list_quotas(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as url:
        env = _env(url)
        tenant = runner.invoke(app, ["admin", "create-tenant", "acme", "--format", "json"], env=env)
        assert tenant.exit_code == 0, tenant.output
        tenant_id = json.loads(tenant.stdout.strip().splitlines()[-1])["id"]
        user = runner.invoke(
            app,
            ["admin", "create-user", "acme", "alice", "--role", "tenant-admin", "--format", "json"],
            env=env,
        )
        assert user.exit_code == 0, user.output
        user_id = json.loads(user.stdout.strip().splitlines()[-1])["id"]
        key = runner.invoke(app, ["admin", "create-key", tenant_id, user_id, "--format", "json"], env=env)
        assert key.exit_code == 0, key.output
        token = json.loads(key.stdout.strip().splitlines()[-1])["token"]
        quotas = runner.invoke(app, ["admin", "list-quotas", "acme", "--format", "json"], env=env)
        assert quotas.exit_code == 0, quotas.output
        assert json.loads(quotas.stdout.strip().splitlines()[-1])["tenant"]["scope_id"] == tenant_id
        missing = runner.invoke(app, ["admin", "list-quotas", "nope"], env=env)
        assert missing.exit_code != 0 and "no tenant" in missing.output

        key_file = tmp_path / "admin.key"
        key_file.write_text(issue_key(secret=TEST_SECRET).token)
        with stic_up(database_url=url, secret=TEST_SECRET, key_file=key_file) as base:
            me = httpx.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["roles"] == ["tenant-admin"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_stic_up_serves_docs_health_and_the_api(backend: str, tmp_path: Path) -> None:
    key_file = tmp_path / "admin.key"
    with (
        fresh_database(backend, tmp_path) as url,
        stic_up(database_url=url, secret=TEST_SECRET, key_file=key_file) as base,
    ):
        token = key_file.read_text().strip()
        assert token.startswith("stic_"), "the bootstrap key is written to the key file on first start"
        assert httpx.get(f"{base}/healthz").status_code == 200
        docs = httpx.get(f"{base}/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        created = httpx.post(
            f"{base}/v1/tenants", json={"name": "live"}, headers={"Authorization": f"Bearer {token}"}
        )
        assert created.status_code == 201


def test_stic_serve_runs_one_service_alone(tmp_path: Path) -> None:
    key_file = tmp_path / "admin.key"
    with fresh_database("sqlite", tmp_path) as url:
        with stic_up(
            database_url=url, secret=TEST_SECRET, key_file=key_file, command=("serve", "iam")
        ) as base:
            headers = {"Authorization": f"Bearer {key_file.read_text().strip()}"}
            assert httpx.get(f"{base}/v1/me", headers=headers).status_code == 200
            paths = httpx.get(f"{base}/openapi.json").json()["paths"]
            assert "/v1/tenants" in paths
            assert not any("quota" in path for path in paths), "only the IAM service is mounted"
        env = {**os.environ, **_env(url)}
        unknown = subprocess.run([STIC, "serve", "nope"], env=env, capture_output=True, text=True, timeout=60)
    assert unknown.returncode != 0 and "unknown service 'nope'" in unknown.stderr
