"""Request and response bodies of the KMS service (Alibaba Cloud KMS naming, snake_case)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator

from services.kernel.types import FreeText, ResponseModel, StrictModel

EncryptionContext = dict[str, str]


class KeyCreate(StrictModel):
    """A new master key."""

    alias: str = Field(pattern=r"^[a-z0-9]([-a-z0-9/]{0,98}[a-z0-9])?$", description="unique per tenant")
    description: FreeText = ""


class KeyOut(ResponseModel):
    """Master-key metadata (never material)."""

    id: str
    tenant_id: str
    alias: str
    description: str
    state: Literal["enabled", "disabled"]
    primary_version: int
    created_at: datetime
    rotated_at: datetime | None


class KeyList(ResponseModel):
    """The tenant's keys."""

    items: list[KeyOut]


class KeyStateIn(StrictModel):
    """Enable or disable a key."""

    state: Literal["enabled", "disabled"]


def _base64(value: str) -> str:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("must be base64") from exc
    return value


class EncryptIn(StrictModel):
    """Encrypt ≤ 4 KiB under a master key."""

    key_id: str = Field(max_length=64)
    plaintext: str = Field(description="base64, at most 4096 bytes decoded")
    encryption_context: EncryptionContext = Field(default_factory=dict)

    _check_plaintext = field_validator("plaintext")(_base64)


class GenerateDataKeyIn(StrictModel):
    """Ask for a fresh data key."""

    key_id: str = Field(max_length=64)
    key_spec: Literal["SM4_128"] = "SM4_128"
    encryption_context: EncryptionContext = Field(default_factory=dict)


class DecryptIn(StrictModel):
    """Decrypt a ciphertext blob (it names its own key and version)."""

    ciphertext_blob: str = Field(max_length=16384)
    encryption_context: EncryptionContext = Field(default_factory=dict)


class ReEncryptIn(StrictModel):
    """Re-encrypt under another key and/or context (default: same key's newest version)."""

    ciphertext_blob: str = Field(max_length=16384)
    source_encryption_context: EncryptionContext = Field(default_factory=dict)
    destination_key_id: str | None = Field(default=None, max_length=64)
    destination_encryption_context: EncryptionContext | None = None


class CiphertextOut(ResponseModel):
    """Encrypt / ReEncrypt result."""

    key_id: str
    key_version: int
    ciphertext_blob: str


class DataKeyOut(ResponseModel):
    """GenerateDataKey result: use ``plaintext`` (base64) and discard it; store ``ciphertext_blob``."""

    key_id: str
    key_version: int
    plaintext: str
    ciphertext_blob: str


class PlaintextOut(ResponseModel):
    """Decrypt result."""

    key_id: str
    key_version: int
    plaintext: str
