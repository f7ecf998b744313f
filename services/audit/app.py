"""The audit service: the tamper-evident Merkle log replaces the kernel's plain audit sink.

On start-up it loads (or, where allowed, creates) the SM2 checkpoint key, starts the
sequencer on the app's database and routes the app's audit hub to it, so every mutating
request of every mounted service lands in the Merkle log.
"""

from __future__ import annotations

from fastapi import FastAPI

from security.auditlog.config import AuditSettings
from security.auditlog.log import AuditLog
from security.auditlog.sink import MerkleAuditSink
from services.audit.router import router
from services.audit.service import AuditRuntime
from services.kernel.app import ServiceModule, create_service_app
from services.kernel.settings import Settings


async def start_audit_log(app: FastAPI) -> None:
    """Start the sequencer and install it as the app's audit sink."""
    settings: AuditSettings = getattr(app.state, "audit_settings", None) or AuditSettings()
    signer = settings.load_signer(data_dir=app.state.settings.data_dir)
    log = AuditLog(database=app.state.database, signer=signer, config=settings.log_config())
    await log.start()
    app.state.audit_runtime = AuditRuntime(log=log, signer=signer)
    app.state.audit.set_sink(MerkleAuditSink(log))


async def stop_audit_log(app: FastAPI) -> None:
    """Flush, sign a final checkpoint, stop the sequencer."""
    runtime: AuditRuntime | None = getattr(app.state, "audit_runtime", None)
    if runtime is not None:
        await runtime.log.close()


module = ServiceModule(
    name="audit",
    title="Audit log",
    description="tamper-evident audit log: RFC 9162 Merkle tree over SM3, SM2-signed checkpoints, proofs",
    routers=[router],
    on_startup=[start_audit_log],
    on_shutdown=[stop_audit_log],
)


def create_app(settings: Settings, audit_settings: AuditSettings | None = None) -> FastAPI:
    """The audit service alone; ``audit_settings`` overrides the ``STIC_AUDIT_*`` environment."""
    app = create_service_app(modules=[module], settings=settings)
    if audit_settings is not None:
        app.state.audit_settings = audit_settings
    return app
