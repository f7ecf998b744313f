"""``stic audit``: verify the tamper-evident audit log and export checkpoints.

``stic audit verify`` exits 0 when the log verifies, 1 naming the first bad entry and why
otherwise, 2 on a usage problem (no key, unreadable checkpoint file).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from security.auditlog import store
from security.auditlog.checkpoint import Checkpoint, CheckpointError, NoteVerifier, open_checkpoint
from security.auditlog.config import AuditSettings
from security.auditlog.verify import VerifyReport, verify_log
from services.kernel.db import Database
from services.kernel.settings import Settings

app = typer.Typer(help="Tamper-evident audit log (RFC 9162 Merkle tree over SM3, SM2 checkpoints).")
err = Console(stderr=True)


def _fail_usage(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=2)


def _verifier(settings: AuditSettings, public_key: Path | None) -> NoteVerifier:
    if public_key is not None:
        if not public_key.is_file():
            raise _fail_usage(f"public key file {public_key} does not exist")
        return settings.verifier_from_public_key(public_key)
    data_dir = Settings().data_dir
    key_file = settings.signing_key_file or data_dir / "audit-signing-key.pem"
    if key_file.is_file():
        err.print(
            "[yellow]note:[/yellow] checking signatures with the public half of "
            f"{key_file}; "
            "pass --public-key to check against an independently held key"
        )
        return settings.load_signer(data_dir=data_dir).verifier
    raise _fail_usage("no --public-key given and no signing key file; cannot check checkpoint signatures")


async def _run_verify(
    database_url: str, verifier: NoteVerifier, origin: str, trusted: list[Checkpoint]
) -> VerifyReport:
    database = Database(database_url)
    try:
        async with database.sessionmaker() as session:
            return await verify_log(session, verifier=verifier, origin=origin, trusted_checkpoints=trusted)
    finally:
        await database.dispose()


@app.command()
def verify(
    database_url: Annotated[
        str | None, typer.Option(help="database holding the log (default: STIC_DATABASE_URL)")
    ] = None,
    from_checkpoint: Annotated[
        Path | None, typer.Option(help="a signed checkpoint saved earlier; the log must extend it")
    ] = None,
    public_key: Annotated[
        Path | None, typer.Option(help="SM2 public key (PEM) that signs checkpoints")
    ] = None,
    format: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """Recompute the tree from every entry, check every checkpoint signature and consistency."""
    if format not in ("text", "json"):
        raise _fail_usage("--format must be 'text' or 'json'")
    settings = AuditSettings()
    verifier = _verifier(settings, public_key)
    trusted: list[Checkpoint] = []
    if from_checkpoint is not None:
        try:
            trusted.append(
                open_checkpoint(from_checkpoint.read_text("utf-8"), verifier, origin=settings.origin)
            )
        except (OSError, CheckpointError) as exc:
            raise _fail_usage(f"checkpoint file {from_checkpoint}: {exc}") from exc
    url = database_url or Settings().database_url
    try:
        with err.status("verifying the audit log..."):
            report = asyncio.run(_run_verify(url, verifier, settings.origin, trusted))
    except Exception as exc:
        # Unreadable rows (a column rewritten with garbage of the wrong type) or an unreachable database.
        err.print(f"[red]FAILED[/red]: verification aborted: {type(exc).__name__}: {exc}")
        raise typer.Exit(code=1) from exc
    if format == "json":
        sys.stdout.write(json.dumps(report.as_dict()) + "\n")
    elif report.ok:
        summary = f"{report.entries} entries, {report.checkpoints} checkpoints, root {report.root}"
        err.print(f"[green]OK[/green] {summary}")
    else:
        for problem in report.problems:
            err.print(f"[red]{problem.kind}[/red] {problem.message}")
    first = report.first_bad
    if first is not None:
        where = f"entry {first.index}" if first.index is not None else "log"
        err.print(f"[red]FAILED[/red]: first bad {where}: {first.message}")
        raise typer.Exit(code=1)


async def _latest_note(database_url: str) -> str | None:
    database = Database(database_url)
    try:
        async with database.sessionmaker() as session:
            latest = await store.latest_checkpoint(session)
            return latest.note if latest is not None else None
    finally:
        await database.dispose()


@app.command("checkpoint")
def export_checkpoint(
    database_url: Annotated[str | None, typer.Option(help="database holding the log")] = None,
    output: Annotated[Path | None, typer.Option(help="write the signed note here instead of stdout")] = None,
) -> None:
    """Print (or save) the latest signed checkpoint, for a later ``verify --from-checkpoint``."""
    note = asyncio.run(_latest_note(database_url or Settings().database_url))
    if note is None:
        err.print("[red]error:[/red] the log has no checkpoint yet")
        raise typer.Exit(code=1)
    if output is None:
        sys.stdout.write(note)
    else:
        output.write_text(note, "utf-8")
