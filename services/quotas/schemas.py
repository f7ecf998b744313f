"""Request and response bodies of the quota API.

Resource names: ``cpu_millicores``, ``memory_mib``, ``storage_gib``, ``accelerator_memory_mib``
and ``accelerators/<type>`` (e.g. ``accelerators/nvidia-a100``, ``accelerators/ascend-910b``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from services.kernel.types import FreeText, ResourceId, ResponseModel, StrictModel

RESOURCE_PATTERN = (
    r"^(cpu_millicores|memory_mib|storage_gib|accelerator_memory_mib|accelerators/[a-z0-9][a-z0-9.-]{0,62})$"
)
ResourceName = Annotated[str, StringConstraints(pattern=RESOURCE_PATTERN)]
Amount = Annotated[int, Field(ge=0, le=2**53)]
ResourceAmounts = Annotated[
    dict[ResourceName, Amount],
    Field(max_length=64, description="Resource name → non-negative integer amount"),
]
ScopeType = Literal["tenant", "department", "project"]


class QuotaSet(StrictModel):
    """Limits for one scope; a resource left out is unlimited at that level."""

    limits: ResourceAmounts


class QuotaOut(StrictModel):
    """Limits and current usage of one scope."""

    scope_type: ScopeType
    scope_id: str
    tenant_id: str
    limits: dict[str, int]
    used: dict[str, int]


class QuotaTree(StrictModel):
    """The whole quota picture of a tenant: tenant, departments and projects."""

    tenant: QuotaOut
    departments: list[QuotaOut]
    projects: list[QuotaOut]


class ReservationCreate(StrictModel):
    """Hold ``resources`` in a project for ``owner`` (e.g. ``job:job_…``); owners are unique per tenant."""

    project_id: ResourceId
    owner: Annotated[FreeText, StringConstraints(min_length=1, max_length=200)]
    resources: Annotated[ResourceAmounts, Field(min_length=1)]


class ReservationOut(ResponseModel):
    """A reservation."""

    id: str
    tenant_id: str
    project_id: str
    department_id: str
    owner: str
    resources: dict[str, int]
    status: str
    created_at: datetime
    released_at: datetime | None
