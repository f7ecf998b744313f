"""Reusable validated field types for request schemas (names, ids, free text)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", min_length=1, max_length=63),
    Field(description="Lower-case DNS label: a-z, 0-9 and '-', 1–63 characters"),
]
# Printable text without control characters (NUL breaks PostgreSQL, others break logs).
FreeText = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$", max_length=200)]
ResourceIdPattern = r"^[a-z]{2,4}_[0-9a-f]{32}$"
ResourceId = Annotated[
    str,
    StringConstraints(pattern=ResourceIdPattern, max_length=40),
    Field(description="Resource id such as prj_<32 hex>"),
]


class StrictModel(BaseModel):
    """Request body base: unknown fields are rejected with a 422 naming them."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class ResponseModel(BaseModel):
    """Response base: built from ORM objects."""

    model_config = ConfigDict(from_attributes=True)
