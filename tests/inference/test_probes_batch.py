"""The batch probe passes on a platform whose batch workers reach it over HTTP, and fails when the
batch controller does not run (batches then never complete)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI

import inference.probes_batch as probes_batch
from inference.batches.options import BatchOptions
from inference.engines.base import Replica
from services.assessment.deployment import free_loopback_port, serve_loopback
from services.assessment.probes.base import ProbeFailure
from services.assessment.status import Status
from tests.conftest import TEST_KMS_ROOT_KEY, PlatformDB, client_for, platform_settings
from tests.inference.test_probes import _run, _seed_platform_tenant


@pytest.fixture
async def batch_platform(
    isolated_db: PlatformDB, builtin_replica: Replica, tiny_model_dir: object, tmp_path: Path
) -> AsyncIterator[FastAPI]:
    """The all-in-one app, seeded as after ``stic up --demo``, also listening on a loopback port."""
    from services.allinone import create_app
    from services.kms.app import KmsSettings

    port = free_loopback_port()
    app = create_app(platform_settings(isolated_db, host="127.0.0.1", port=port))
    app.state.kms_settings = KmsSettings(root_key=TEST_KMS_ROOT_KEY)
    app.state.batch_options = BatchOptions(
        tick_s=0.2, work_dir=tmp_path / "batches", files_dir=tmp_path / "files"
    )
    async with (
        app.router.lifespan_context(app),
        serve_loopback(app, port),
        client_for(app, isolated_db.admin_token) as admin,
    ):
        yield await _seed_platform_tenant(app, admin, builtin_replica, tiny_model_dir)


@pytest.mark.parametrize("isolated_db", ["sqlite"], indirect=True)  # worker processes: once is enough
async def test_batch_probe_verifies_and_fails_without_the_controller(
    batch_platform: FastAPI, isolated_db: PlatformDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = probes_batch.BatchInferenceProbe()
    result = await _run(probe, batch_platform, isolated_db.admin_token)
    assert result.status is Status.VERIFIED, result.message

    await batch_platform.state.batch_controller.stop()  # batches are accepted but never run
    monkeypatch.setattr(probes_batch, "BATCH_TIMEOUT_S", 6.0)
    with pytest.raises(ProbeFailure, match="after 6 s"):
        await _run(probe, batch_platform, isolated_db.admin_token)
