"""Interoperability with the system ``openssl`` CLI, an SM2 implementation independent of our backends.

Keys written by ``openssl ecparam``/``pkey`` load here; signatures (default ID) and C1C3C2 DER
ciphertexts made by ``openssl pkeyutl`` verify and decrypt with every backend, and ours with openssl.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from security.crypto import SM2PrivateKey, SM2PublicKey
from security.crypto.sm2.backends.base import SM2Backend

OPENSSL = shutil.which("openssl")
MESSAGE = b"message digest"


def _openssl(*args: str) -> subprocess.CompletedProcess[bytes]:
    assert OPENSSL is not None, "the openssl CLI is part of the project's machine image"
    return subprocess.run([OPENSSL, *args], capture_output=True, check=False, timeout=30)


@pytest.fixture(scope="module")
def openssl_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("openssl-sm2")
    key = folder / "key.pem"
    assert _openssl("ecparam", "-name", "SM2", "-genkey", "-out", str(key)).returncode == 0
    assert _openssl("pkey", "-in", str(key), "-pubout", "-out", str(folder / "pub.pem")).returncode == 0
    (folder / "msg.bin").write_bytes(MESSAGE)
    return key


def test_openssl_keys_load(openssl_key: Path) -> None:
    key = SM2PrivateKey.from_pem(openssl_key.read_bytes())  # SM2 PARAMETERS block comes first
    public = SM2PublicKey.from_pem((openssl_key.parent / "pub.pem").read_bytes())
    assert key.public_key() == public


def test_openssl_signature_verifies_with_every_backend(openssl_key: Path, backend: SM2Backend) -> None:
    folder = openssl_key.parent
    sig = folder / "openssl.sig"
    result = _openssl(
        "pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-inkey", str(openssl_key),
        "-pkeyopt", "distid:1234567812345678", "-in", str(folder / "msg.bin"), "-out", str(sig),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    public = SM2PublicKey.from_pem((folder / "pub.pem").read_bytes())
    assert public.verify(sig.read_bytes(), MESSAGE, backend=backend)
    assert not public.verify(sig.read_bytes(), MESSAGE + b".", backend=backend)


def test_our_signature_verifies_with_openssl(openssl_key: Path, backend: SM2Backend) -> None:
    folder = openssl_key.parent
    sig = folder / f"ours-{backend.name}.sig"
    sig.write_bytes(SM2PrivateKey.from_pem(openssl_key.read_bytes()).sign(MESSAGE, backend=backend))
    result = _openssl(
        "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pubin", "-inkey", str(folder / "pub.pem"),
        "-pkeyopt", "distid:1234567812345678", "-in", str(folder / "msg.bin"), "-sigfile", str(sig),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_openssl_ciphertext_decrypts_with_every_backend(openssl_key: Path, backend: SM2Backend) -> None:
    folder = openssl_key.parent
    ct = folder / "openssl.ct"
    result = _openssl(
        "pkeyutl", "-encrypt", "-pubin", "-inkey", str(folder / "pub.pem"), "-in", str(folder / "msg.bin"),
        "-out", str(ct),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (
        SM2PrivateKey.from_pem(openssl_key.read_bytes()).decrypt(ct.read_bytes(), backend=backend) == MESSAGE
    )


def test_our_ciphertext_decrypts_with_openssl(openssl_key: Path, backend: SM2Backend) -> None:
    folder = openssl_key.parent
    ct = folder / f"ours-{backend.name}.ct"
    ct.write_bytes(SM2PublicKey.from_pem((folder / "pub.pem").read_bytes()).encrypt(MESSAGE, backend=backend))
    result = _openssl("pkeyutl", "-decrypt", "-inkey", str(openssl_key), "-in", str(ct))
    assert result.returncode == 0, result.stderr
    assert result.stdout == MESSAGE
