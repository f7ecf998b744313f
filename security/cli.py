"""``stic`` security commands: ``sbom``, ``sign``, ``verify``, ``keygen``.

The lead mounts :data:`app` and also registers the command functions at the top level
(``stic sbom``, ``stic sign``, ...). Exit status: 0 success, 1 a check failed (flagged
licences with ``--fail-on-flagged``, a signature mismatch), 2 bad input.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from security.crypto import CryptoError, SM2PrivateKey, SM2PublicKey
from security.supplychain.licenses import AllowList
from security.supplychain.sbom import build_sbom
from security.supplychain.signing import (
    SIGNATURE_SUFFIX,
    SignatureFormatError,
    sign_file,
    verify_file,
    write_signature,
)

app = typer.Typer(help="Supply-chain and key commands (SM2 / SM3).", no_args_is_help=True)
_err = Console(stderr=True)

FormatOpt = Annotated[str, typer.Option("--format", help="text or json (one JSON object on stdout)")]


def _check_format(fmt: str) -> None:
    if fmt not in ("text", "json"):
        raise typer.BadParameter(f"--format must be text or json, got {fmt!r}")


def _emit(fmt: str, payload: dict[str, Any], text: str) -> None:
    if fmt == "json":
        sys.stdout.write(json.dumps(payload) + "\n")
    else:
        _err.print(text)


def _fail(message: str, code: int = 2) -> typer.Exit:
    _err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _fail(f"cannot read {what} {path}: {exc.strerror}") from None


@app.command("sbom")
def sbom(
    out: Annotated[Path | None, typer.Option("--out", help="write the SBOM here instead of stdout")] = None,
    allow: Annotated[
        list[str] | None, typer.Option("--allow", help="extra allowed licence (SPDX id or glob); repeatable")
    ] = None,
    no_default_allow: Annotated[
        bool, typer.Option("--no-default-allow", help="start from an empty allow-list")
    ] = False,
    fail_on_flagged: Annotated[
        bool, typer.Option("--fail-on-flagged", help="exit 1 if any licence is flagged")
    ] = False,
) -> None:
    """Write a CycloneDX 1.6 JSON SBOM of this Python environment and flag licences."""
    report = build_sbom(allow=AllowList.of(allow or (), include_defaults=not no_default_allow))
    document = json.dumps(report.bom, indent=2) + "\n"
    if out is None:
        sys.stdout.write(document)
    else:
        out.write_text(document, encoding="utf-8")
        _err.print(f"SBOM with {len(report.bom['components'])} components written to {out}")
    if report.findings:
        table = Table(title="Licences needing review")
        for column in ("component", "version", "licence", "reason"):
            table.add_column(column)
        for f in report.findings:
            table.add_row(f.name, f.version, f.licence or "-", f.reason)
        _err.print(table)
    if fail_on_flagged and report.findings:
        raise typer.Exit(1)


def _load_private(path: Path) -> SM2PrivateKey:
    try:
        return SM2PrivateKey.from_pem(_read(path, "private key"))
    except CryptoError as exc:
        raise _fail(f"{path} is not a usable SM2 private key: {exc}") from None


def _load_public(path: Path) -> SM2PublicKey:
    try:
        return SM2PublicKey.from_pem(_read(path, "public key"))
    except CryptoError as exc:
        raise _fail(f"{path} is not a usable SM2 public key: {exc}") from None


@app.command("sign")
def sign(
    file: Annotated[Path, typer.Argument(help="artefact to sign")],
    key: Annotated[Path, typer.Option("--key", help="SM2 private key, PEM")],
    out: Annotated[
        Path | None, typer.Option("--out", help=f"signature file (default FILE{SIGNATURE_SUFFIX})")
    ] = None,
    fmt: FormatOpt = "text",
) -> None:
    """Write a detached SM2 signature of FILE."""
    _check_format(fmt)
    if not file.is_file():
        raise _fail(f"{file} is not a file")
    document = sign_file(path=file, private_key=_load_private(key))
    target = out or file.with_name(file.name + SIGNATURE_SUFFIX)
    write_signature(document, target)
    _emit(
        fmt,
        {
            "signature": str(target),
            "sm3": document["artefact"]["sm3"],
            "signer": document["signer"]["fingerprint"],
        },
        f"signed {file} -> {target} (signer {document['signer']['fingerprint'][:16]}...)",
    )


@app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="artefact to check")],
    signature: Annotated[Path, typer.Option("--signature", help="signature file from `stic sign`")],
    public_key: Annotated[Path, typer.Option("--public-key", help="trusted SM2 public key, PEM")],
    fmt: FormatOpt = "text",
) -> None:
    """Verify FILE against a detached signature; exit 1 naming every mismatch."""
    _check_format(fmt)
    if not file.is_file():
        raise _fail(f"{file} is not a file")
    key = _load_public(public_key)
    try:
        result = verify_file(path=file, document=_read(signature, "signature"), public_key=key)
    except SignatureFormatError as exc:
        raise _fail(str(exc)) from None
    payload = {
        "ok": result.ok,
        "problems": result.problems,
        "signer": result.signer_fingerprint,
        "signed_at": result.signed_at,
    }
    if result.ok:
        _emit(
            fmt,
            payload,
            f"[green]OK[/green] {file} signed by {result.signer_fingerprint} at {result.signed_at}",
        )
        return
    _emit(fmt, payload, "\n".join(f"[red]FAIL[/red] {p}" for p in result.problems))
    raise typer.Exit(1)


def _write_private(path: Path, data: bytes, *, force: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise _fail(f"{path} exists; pass --force to overwrite") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


@app.command("keygen")
def keygen(
    out_private: Annotated[Path, typer.Option("--out-private", help="private key PEM (written mode 0600)")],
    out_public: Annotated[Path, typer.Option("--out-public", help="public key PEM")],
    force: Annotated[bool, typer.Option("--force", help="overwrite existing files")] = False,
    fmt: FormatOpt = "text",
) -> None:
    """Generate an SM2 key pair (PKCS#8 private key, SubjectPublicKeyInfo public key)."""
    _check_format(fmt)
    if out_public.exists() and not force:
        raise _fail(f"{out_public} exists; pass --force to overwrite")
    key = SM2PrivateKey.generate()
    _write_private(out_private, key.to_pem(), force=force)
    out_public.write_bytes(key.public_key().to_pem())
    fingerprint = key.public_key().fingerprint()
    _emit(
        fmt,
        {"private_key": str(out_private), "public_key": str(out_public), "fingerprint": fingerprint},
        f"SM2 key pair written: {out_private} (0600), {out_public}; fingerprint {fingerprint}",
    )
