"""``stic job`` against a real ``stic up --demo`` server: submit a YAML file, list, get, logs, delete."""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from scheduler.jobcli import app
from tests.conftest import TEST_SECRET, fresh_database
from tests.services.server import stic_up

runner = CliRunner()
EXAMPLES = Path(__file__).parents[3] / "scheduler" / "examples"


def test_job_cli_against_stic_up_demo(tmp_path: Path) -> None:
    # stic_up passes this process's environment to the server: set ours only for its start.
    extra = {"STIC_SCHEDULER_WORK_DIR": str(tmp_path / "work")}
    if "STIC_KMS_ROOT_KEY" not in os.environ:
        extra["STIC_KMS_ROOT_KEY"] = secrets.token_hex(32)  # the KMS service needs one outside development
    os.environ.update(extra)
    try:
        with (
            fresh_database("sqlite", tmp_path) as url,
            stic_up(
                database_url=url,
                secret=TEST_SECRET,
                key_file=tmp_path / "admin.key",
                command=("up", "--demo"),
            ) as base,
        ):
            admin = httpx.Client(
                base_url=base,
                headers={"Authorization": f"Bearer {(tmp_path / 'admin.key').read_text().strip()}"},
            )
            nodes = admin.get("/v1/nodes?limit=100").json()["items"]
            assert {n["simulated"] for n in nodes if n["name"].startswith("demo-")} == {True}
            assert [n["simulated"] for n in nodes if n["local"]] == [False]
            tenant = admin.post("/v1/tenants", json={"name": "cli"}).json()["id"]
            dep = admin.post(f"/v1/tenants/{tenant}/departments", json={"name": "d"}).json()["id"]
            project = admin.post(
                f"/v1/tenants/{tenant}/projects", json={"name": "p", "department_id": dep}
            ).json()["id"]
            user = admin.post(f"/v1/tenants/{tenant}/users", json={"name": "dev"}).json()["id"]
            admin.post(
                f"/v1/tenants/{tenant}/role-bindings", json={"principal_id": user, "role": "developer"}
            )
            token = admin.post(f"/v1/tenants/{tenant}/api-keys", json={"principal_id": user}).json()["token"]
            env = {"STIC_URL": base, "STIC_API_KEY": token}
            submitted = runner.invoke(
                app,
                ["submit", str(EXAMPLES / "notebook.yaml"), "--project", project, "--format", "json"],
                env=env,
            )
            assert submitted.exit_code == 0, submitted.output
            job = json.loads(submitted.stdout)
            deadline = time.monotonic() + 30
            while True:
                got = runner.invoke(app, ["get", "notebook", "--format", "json"], env=env)
                state = json.loads(got.stdout)["state"]
                if state == "completed" or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert state == "completed", got.stdout
            listed = runner.invoke(app, ["list", "--format", "json"], env=env)
            assert [j["id"] for j in json.loads(listed.stdout)["items"]] == [job["id"]]
            logs = runner.invoke(app, ["logs", job["id"], "lab-0"], env=env)
            assert logs.stdout.startswith("notebook on ")
            bad = runner.invoke(app, ["resume", "notebook"], env=env)
            assert bad.exit_code == 1
            assert runner.invoke(app, ["delete", "notebook"], env=env).exit_code == 0
            assert json.loads(runner.invoke(app, ["list", "--format", "json"], env=env).stdout)["items"] == []
    finally:
        for name in extra:
            del os.environ[name]
