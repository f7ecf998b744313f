"""SM3 digests (GB/T 32905) of bytes and files, through ``cryptography``'s OpenSSL binding."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import hashes

_CHUNK = 1 << 20


def sm3_hex(data: bytes) -> str:
    """The SM3 digest of ``data`` as 64 lowercase hex characters."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


def sm3_file(path: Path) -> str:
    """The SM3 digest of the file at ``path``, read in 1 MiB chunks."""
    digest = hashes.Hash(hashes.SM3())
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.finalize().hex()
