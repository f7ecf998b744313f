"""Turn a batch into a scheduler job, and retire what it was given when the batch ends.

Credentials: each batch gets its own service account ``batch-runner-<batch hex>`` in the
batch's tenant, bound to ``developer`` on the batch's project only, and one API key for it
that expires with the batch's completion window. The token is written to
``<work_dir>/<batch id>/runner-<random>.key`` (folder 0700, file 0600) and the job's command names that
path: the token is never in the job spec, the database (only its HMAC, as for every key) or
the task's environment. When the batch ends the account is deleted (with its key and binding)
and the file removed, so the credential lives exactly as long as the batch.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from inference.batches.models import BatchRow
from inference.batches.options import BatchOptions
from scheduler.model import JobType
from scheduler.recovery.policy import PolicyKind
from scheduler.service.jobs import create_job
from scheduler.service.jobspec import GroupIn, JobCreate, RecoveryIn
from services.iam import schemas as iam_schemas
from services.iam import service as iam
from services.kernel.auth import Principal
from services.kernel.db import utcnow
from services.kernel.errors import NotFound
from services.kernel.identity import ServiceAccount
from services.kernel.permissions import Role
from services.kernel.tenancy import scoped

KEY_GRACE = timedelta(minutes=10)


def batch_hex(batch_id: str) -> str:
    """The hex part of a batch id (names of its account and job)."""
    return batch_id.split("_", 1)[1]


def account_name(batch_id: str) -> str:
    """The service account of a batch's runner."""
    return f"batch-runner-{batch_hex(batch_id)}"


def credentials_path(work_dir: Path, batch_id: str) -> Path:
    """A fresh file name for the runner's token (one per submission attempt, so that an attempt
    that loses a race with another controller never overwrites the winner's token)."""
    return work_dir / batch_id / f"runner-{secrets.token_hex(8)}.key"


def _write_secret(path: Path, token: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(token)
    os.replace(tmp, path)


def worker_command(batch: BatchRow, options: BatchOptions, credentials: Path) -> list[str]:
    """The job's command line (no secret in it)."""
    assert options.control_url is not None and options.inference_url is not None
    return [
        sys.executable,
        "-m",
        "inference.batches.worker",
        "--batch-id",
        batch.id,
        "--control-url",
        options.control_url,
        "--inference-url",
        options.inference_url,
        "--credentials",
        str(credentials),
        "--concurrency",
        str(options.worker_concurrency),
        "--timeout",
        str(options.request_timeout_s),
    ]


async def launch(
    session: AsyncSession, *, batch: BatchRow, system: Principal, options: BatchOptions, secret: str
) -> None:
    """Submit the batch's job and mint the runner's credential; the batch becomes ``in_progress``.

    The job goes first: its quota reservation commits ``session`` (see ``services.quotas``), and
    a refused submission (quota, queue) must leave no account or key behind.
    """
    assert options.work_dir is not None
    tenant_id = batch.tenant_id
    credentials = credentials_path(options.work_dir, batch.id)
    job = await create_job(
        session=session,
        principal=system,
        tenant_id=tenant_id,
        job_in=JobCreate(
            name=f"batch-{batch_hex(batch.id)}",
            project_id=batch.project_id,
            queue=options.queue,
            type=JobType.BATCH,
            description=f"offline inference of batch {batch.id}",
            groups=[
                GroupIn(
                    name="worker",
                    cpu_milli=options.worker_cpu_milli,
                    memory_mib=options.worker_memory_mib,
                    command=worker_command(batch, options, credentials),
                )
            ],
            recovery=RecoveryIn(
                policy=PolicyKind.RESTART_IN_PLACE,
                max_retries=options.worker_max_retries,
                backoff_seconds=1.0,
            ),
        ),
    )
    account = await iam.create_service_account(
        session=session,
        principal=system,
        tenant_id=tenant_id,
        account_in=iam_schemas.ServiceAccountCreate(name=account_name(batch.id), project_id=batch.project_id),
    )
    await iam.create_role_binding(
        session=session,
        principal=system,
        tenant_id=tenant_id,
        binding_in=iam_schemas.RoleBindingCreate(
            principal_id=account.id, role=Role.DEVELOPER, project_id=batch.project_id
        ),
    )
    key, token = await iam.create_api_key(
        session=session,
        principal=system,
        tenant_id=tenant_id,
        key_in=iam_schemas.ApiKeyCreate(
            principal_id=account.id, name=f"runner of {batch.id}", expires_in_days=1
        ),
        secret=secret,
    )
    key.expires_at = batch.expires_at + KEY_GRACE
    _write_secret(credentials, token)
    batch.job_id = job.id
    batch.runner_key_id = key.id
    batch.status = "in_progress"
    batch.in_progress_at = utcnow()


async def retire(session: AsyncSession, *, batch: BatchRow, system: Principal, options: BatchOptions) -> None:
    """Delete the runner's account (its key and binding go with it) and its credentials file."""
    assert options.work_dir is not None
    account = (
        await session.execute(
            scoped(ServiceAccount, batch.tenant_id).where(ServiceAccount.name == account_name(batch.id))
        )
    ).scalar_one_or_none()
    if account is not None:
        with contextlib.suppress(NotFound):
            await iam.delete_service_account(
                session=session, principal=system, tenant_id=batch.tenant_id, account_id=account.id
            )
    shutil.rmtree(options.work_dir / batch.id, ignore_errors=True)
