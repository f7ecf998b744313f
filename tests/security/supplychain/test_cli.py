"""The security CLI end to end through typer's runner."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from typer.testing import CliRunner

from security.cli import app

runner = CliRunner()


def _keygen(tmp_path: Path) -> tuple[Path, Path]:
    private, public = tmp_path / "signer.pem", tmp_path / "signer.pub"
    result = runner.invoke(
        app, ["keygen", "--out-private", str(private), "--out-public", str(public), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["fingerprint"]
    return private, public


def test_keygen_sign_verify_and_tamper(tmp_path: Path) -> None:
    private, public = _keygen(tmp_path)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    artefact = tmp_path / "release.tar.gz"
    artefact.write_bytes(b"release contents")

    signed = runner.invoke(app, ["sign", str(artefact), "--key", str(private)])
    assert signed.exit_code == 0, signed.output
    signature = tmp_path / "release.tar.gz.sig"
    assert json.loads(signature.read_text())["algorithm"] == "SM2-SM3"

    ok = runner.invoke(
        app,
        [
            "verify",
            str(artefact),
            "--signature",
            str(signature),
            "--public-key",
            str(public),
            "--format",
            "json",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["ok"] is True

    artefact.write_bytes(b"release contents, patched")
    bad = runner.invoke(
        app,
        [
            "verify",
            str(artefact),
            "--signature",
            str(signature),
            "--public-key",
            str(public),
            "--format",
            "json",
        ],
    )
    assert bad.exit_code == 1
    problems = json.loads(bad.stdout)["problems"]
    assert any(p.startswith("digest mismatch") for p in problems)


def test_keygen_refuses_to_overwrite(tmp_path: Path) -> None:
    private, public = _keygen(tmp_path)
    again = runner.invoke(app, ["keygen", "--out-private", str(private), "--out-public", str(public)])
    assert again.exit_code == 2
    assert "exists" in again.output


def test_sign_with_a_bad_key_file_is_a_usage_error(tmp_path: Path) -> None:
    artefact, key = tmp_path / "a.bin", tmp_path / "key.pem"
    artefact.write_bytes(b"x")
    key.write_text("not a key")
    result = runner.invoke(app, ["sign", str(artefact), "--key", str(key)])
    assert result.exit_code == 2
    assert "not a usable SM2 private key" in " ".join(result.output.split())  # wrapped at the console width


def test_sbom_writes_cyclonedx_and_fails_on_flagged(tmp_path: Path) -> None:
    out = tmp_path / "sbom.json"
    result = runner.invoke(app, ["sbom", "--out", str(out)])
    assert result.exit_code == 0, result.output
    bom = json.loads(out.read_text())
    assert bom["bomFormat"] == "CycloneDX"
    strict = runner.invoke(
        app, ["sbom", "--out", str(out), "--no-default-allow", "--allow", "MIT", "--fail-on-flagged"]
    )
    assert strict.exit_code == 1
    assert "Licences needing review" in strict.output
