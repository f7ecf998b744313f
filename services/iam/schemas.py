"""Request and response bodies of the IAM API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import EmailStr, Field

from services.kernel.permissions import Role
from services.kernel.types import FreeText, Name, ResourceId, ResponseModel, StrictModel

Status = Literal["active", "disabled"]


class TenantCreate(StrictModel):
    """A new tenant (platform administrators only)."""

    name: Name
    display_name: FreeText = ""


class TenantUpdate(StrictModel):
    """Changes to a tenant; omitted fields stay as they are."""

    display_name: FreeText | None = None
    status: Status | None = None


class TenantOut(ResponseModel):
    """A tenant."""

    id: str
    name: str
    display_name: str
    status: str
    created_at: datetime


class DepartmentCreate(StrictModel):
    """A new department in the tenant."""

    name: Name
    display_name: FreeText = ""


class DepartmentUpdate(StrictModel):
    """Changes to a department."""

    display_name: FreeText | None = None


class DepartmentOut(ResponseModel):
    """A department."""

    id: str
    tenant_id: str
    name: str
    display_name: str
    created_at: datetime


class ProjectCreate(StrictModel):
    """A new project under one of the tenant's departments."""

    name: Name
    department_id: ResourceId
    display_name: FreeText = ""


class ProjectUpdate(StrictModel):
    """Changes to a project."""

    display_name: FreeText | None = None


class ProjectOut(ResponseModel):
    """A project."""

    id: str
    tenant_id: str
    department_id: str
    name: str
    display_name: str
    created_at: datetime


class UserCreate(StrictModel):
    """A new user of the tenant."""

    name: Name
    email: EmailStr | None = None


class UserUpdate(StrictModel):
    """Changes to a user; a disabled user's keys stop working at once."""

    email: EmailStr | None = None
    status: Status | None = None


class UserOut(ResponseModel):
    """A user."""

    id: str
    tenant_id: str
    name: str
    email: str | None
    status: str
    created_at: datetime


class ServiceAccountCreate(StrictModel):
    """A new service account, optionally tied to a project."""

    name: Name
    project_id: ResourceId | None = None


class ServiceAccountOut(ResponseModel):
    """A service account."""

    id: str
    tenant_id: str
    name: str
    project_id: str | None
    status: str
    created_at: datetime


class ApiKeyCreate(StrictModel):
    """A new API key for a user or service account of the tenant (yourself if omitted)."""

    principal_id: ResourceId | None = None
    name: FreeText = ""
    expires_in_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class ApiKeyOut(ResponseModel):
    """An API key's metadata; the secret itself is never returned after creation."""

    id: str
    tenant_id: str
    name: str
    principal_type: str
    principal_id: str
    expires_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


class ApiKeyCreated(ApiKeyOut):
    """Returned once at creation: ``token`` is the key; store it now, it cannot be shown again."""

    token: str


class RoleBindingCreate(StrictModel):
    """Grant ``role`` to a principal of the tenant, tenant-wide or on one project."""

    principal_id: ResourceId
    role: Role
    project_id: ResourceId | None = None


class RoleBindingOut(ResponseModel):
    """A role binding."""

    id: str
    tenant_id: str
    principal_type: str
    principal_id: str
    role: str
    project_id: str | None
    created_at: datetime


class WhoAmI(StrictModel):
    """The calling principal."""

    id: str
    kind: str
    name: str
    tenant_id: str
    key_id: str
    is_platform_admin: bool
    roles: list[str]
    project_permissions: dict[str, list[str]]
