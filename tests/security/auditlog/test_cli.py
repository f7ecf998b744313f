"""``stic audit verify`` / ``checkpoint`` through typer: exit codes and the first bad entry."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from security.auditlog.cli import app
from security.auditlog.log import AuditLog
from security.auditlog.signing import SM2NoteSigner
from services.kernel.db import Base, Database

from .conftest import audit_tables, build_record, make_config


async def build_log(url: str, signer: SM2NoteSigner, count: int) -> None:
    database = Database(url)
    async with database.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all, tables=audit_tables())
    log = AuditLog(database=database, signer=signer, config=make_config())
    await log.start()
    await log.append_many([build_record(i) for i in range(count)])
    await log.close()
    await database.dispose()


@pytest.fixture
def cli_log(tmp_path: Path, signer: SM2NoteSigner) -> tuple[str, Path, Path]:
    """(database URL, SQLite file, public key file) of a 120-entry log."""
    db_file = tmp_path / "audit.db"
    url = f"sqlite+aiosqlite:///{db_file}"
    asyncio.run(build_log(url, signer, 120))
    key_file = tmp_path / "audit.pub.pem"
    key_file.write_bytes(signer.public_key_pem())
    return url, db_file, key_file


def test_verify_passes_then_names_the_tampered_entry(cli_log: tuple[str, Path, Path]) -> None:
    url, db_file, key_file = cli_log
    runner = CliRunner()
    ok = runner.invoke(
        app, ["verify", "--database-url", url, "--public-key", str(key_file), "--format", "json"]
    )
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["entries"] == 120
    with sqlite3.connect(db_file) as conn:
        conn.execute("DROP TRIGGER audit_log_entries_no_update")
        conn.execute(
            "UPDATE audit_log_entries SET entry = replace(entry, X'3230312C', X'3230322C') WHERE idx = 77"
        )
    bad = runner.invoke(app, ["verify", "--database-url", url, "--public-key", str(key_file)])
    assert bad.exit_code == 1
    assert "first bad entry 77" in bad.output


def test_from_checkpoint_accepts_a_saved_checkpoint(cli_log: tuple[str, Path, Path], tmp_path: Path) -> None:
    url, _db_file, key_file = cli_log
    runner = CliRunner()
    saved = tmp_path / "checkpoint.txt"
    export = runner.invoke(app, ["checkpoint", "--database-url", url, "--output", str(saved)])
    assert export.exit_code == 0, export.output
    assert saved.read_text().startswith("stic.audit/v1\n120\n")
    result = runner.invoke(
        app, ["verify", "--database-url", url, "--public-key", str(key_file), "--from-checkpoint", str(saved)]
    )
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--public-key", "/nonexistent.pem"], "does not exist"),
        (["--from-checkpoint", "/nonexistent.txt"], "checkpoint file"),
        (["--format", "yaml"], "--format"),
    ],
)
def test_usage_errors_exit_2(cli_log: tuple[str, Path, Path], extra: list[str], message: str) -> None:
    url, _db_file, key_file = cli_log
    args = ["verify", "--database-url", url, "--public-key", str(key_file), *extra]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output
