"""Request and response bodies of the rate-limit API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from inference.gateway.limits.types import KeyLimits
from services.kernel.types import ResponseModel, StrictModel

Limit = Annotated[int | None, Field(ge=1, le=2_000_000_000, description="null = unlimited")]


class LimitsIn(StrictModel):
    """The limits to set; an omitted or null field is unlimited."""

    rpm: Limit = None
    tpm: Limit = None
    max_concurrency: Limit = None

    def as_limits(self) -> KeyLimits:
        """The limiter's value object."""
        return KeyLimits(rpm=self.rpm, tpm=self.tpm, max_concurrency=self.max_concurrency)


class LimitsOut(ResponseModel):
    """One stored row: the default (``key_id`` null) or one key's."""

    id: str
    tenant_id: str
    key_id: str | None
    rpm: int | None
    tpm: int | None
    max_concurrency: int | None
    updated_by: str
    created_at: datetime
    updated_at: datetime


class TenantLimitsOut(ResponseModel):
    """A tenant's limits: the default (null when unset: keys without a row are unlimited) and per key."""

    default: LimitsOut | None
    keys: list[LimitsOut]
