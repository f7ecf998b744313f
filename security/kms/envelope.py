"""The self-describing KMS ciphertext blob and the AAD it is bound to.

Binary layout (then base64 for transport), all integers big-endian::

    "SK"  format=1  len(key id):u8  key id (ASCII)  key version:u32  nonce(12)  SM4-GCM ciphertext‖tag(16)

AAD = ``SM3(header ‖ 0x00 ‖ tenant id ‖ 0x00 ‖ canonical JSON of the encryption context)``,
where *header* is every byte before the nonce. The key reference, tenant and context are
therefore all authenticated: changing any of them, or any ciphertext byte, fails decryption.
Canonical JSON is the audit log's (sorted keys, no spaces, UTF-8); context values must be strings.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from security.auditlog.canonical import canonical_json
from security.crypto import sm3_digest

MAGIC = b"SK"
FORMAT_VERSION = 1
NONCE_SIZE = 12
TAG_SIZE = 16
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class MalformedCiphertext(ValueError):
    """The blob is not a KMS ciphertext of a known format (the message says what is wrong)."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """A parsed ciphertext blob."""

    key_id: str
    key_version: int
    nonce: bytes
    ciphertext: bytes

    def header(self) -> bytes:
        """The authenticated header (everything before the nonce)."""
        key = self.key_id.encode("ascii")
        return MAGIC + bytes([FORMAT_VERSION, len(key)]) + key + self.key_version.to_bytes(4, "big")

    def to_bytes(self) -> bytes:
        """The binary blob."""
        return self.header() + self.nonce + self.ciphertext

    def to_text(self) -> str:
        """The blob as base64 (what the API returns)."""
        return base64.b64encode(self.to_bytes()).decode("ascii")

    @classmethod
    def from_bytes(cls, blob: bytes) -> Envelope:
        """Parse a binary blob; raises :class:`MalformedCiphertext`."""
        if len(blob) < 4 or blob[:2] != MAGIC:
            raise MalformedCiphertext("not a STIC KMS ciphertext (bad magic)")
        if blob[2] != FORMAT_VERSION:
            raise MalformedCiphertext(f"unsupported ciphertext format {blob[2]}")
        key_length = blob[3]
        offset = 4 + key_length
        if len(blob) < offset + 4 + NONCE_SIZE + TAG_SIZE:
            raise MalformedCiphertext("ciphertext is truncated")
        key_id = blob[4:offset].decode("latin-1")
        if not _KEY_ID.match(key_id):
            raise MalformedCiphertext("key id in ciphertext is malformed")
        version = int.from_bytes(blob[offset : offset + 4], "big")
        nonce = blob[offset + 4 : offset + 4 + NONCE_SIZE]
        return cls(
            key_id=key_id, key_version=version, nonce=nonce, ciphertext=blob[offset + 4 + NONCE_SIZE :]
        )

    @classmethod
    def from_text(cls, text: str) -> Envelope:
        """Parse the base64 form; raises :class:`MalformedCiphertext`."""
        try:
            blob = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedCiphertext("ciphertext blob is not valid base64") from exc
        return cls.from_bytes(blob)


def context_aad(*, header: bytes, tenant_id: str, context: dict[str, str]) -> bytes:
    """The AAD binding header, tenant and encryption context (see module docstring)."""
    for name, value in context.items():
        if not isinstance(value, str):
            raise ValueError(f"encryption context value for {name!r} must be a string")
    return sm3_digest(header + b"\0" + tenant_id.encode("utf-8") + b"\0" + canonical_json(context))
