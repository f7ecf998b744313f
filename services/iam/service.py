"""IAM logic: tenants, departments, projects, principals, API keys and role bindings.

Every function takes the acting :class:`Principal` and checks it first; tenant-owned rows are
always read through ``services.kernel.tenancy`` so another tenant's ids are simply not found.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.iam import schemas
from services.kernel.auth import Principal, issue_key
from services.kernel.db import utcnow
from services.kernel.deadlocks import flush_retrying_deadlocks
from services.kernel.errors import BadRequest, Conflict, Forbidden, NotFound
from services.kernel.identity import (
    PLATFORM_TENANT_NAME,
    ApiKey,
    Department,
    Project,
    RoleBinding,
    ServiceAccount,
    Tenant,
    User,
)
from services.kernel.pagination import PageParams, paginate
from services.kernel.permissions import TENANT_SCOPED_ROLES, Role
from services.kernel.tenancy import get_scoped, require_tenant, scoped
from services.kernel.tenant_hooks import TenantDeletionHooks


async def _flush_unique(session: AsyncSession, what: str) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict(f"{what} already exists") from exc


# --- tenants -------------------------------------------------------------------------------


async def create_tenant(
    *, session: AsyncSession, principal: Principal, tenant_in: schemas.TenantCreate
) -> Tenant:
    """Create a tenant (platform administrators only); names are unique."""
    if not principal.is_platform_admin:
        raise Forbidden("only platform administrators can create tenants", detail={"permission": "*"})
    tenant = Tenant(name=tenant_in.name, display_name=tenant_in.display_name)
    session.add(tenant)
    await _flush_unique(session, f"tenant '{tenant_in.name}'")
    return tenant


async def list_tenants(
    *, session: AsyncSession, principal: Principal, page: PageParams
) -> tuple[list[Tenant], int]:
    """All tenants for platform administrators; the caller's own tenant otherwise."""
    query = select(Tenant).order_by(Tenant.created_at, Tenant.id)
    if not principal.is_platform_admin:
        query = query.where(Tenant.id == principal.tenant_id)
    return await paginate(session, query, page)


async def get_tenant(*, session: AsyncSession, principal: Principal, tenant_id: str) -> Tenant:
    """One tenant; another tenant's id is reported as not found."""
    principal.require("iam:read", tenant_id=tenant_id)
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound.of("tenant", tenant_id)
    return tenant


async def update_tenant(
    *, session: AsyncSession, principal: Principal, tenant_id: str, tenant_in: schemas.TenantUpdate
) -> Tenant:
    """Change a tenant (platform administrators only)."""
    tenant = await get_tenant(session=session, principal=principal, tenant_id=tenant_id)
    if not principal.is_platform_admin:
        raise Forbidden("only platform administrators can change tenants")
    if tenant.name == PLATFORM_TENANT_NAME and tenant_in.status == "disabled":
        raise Conflict("the platform tenant cannot be disabled")
    _apply(tenant, tenant_in)
    return tenant


async def delete_tenant(
    *,
    session: AsyncSession,
    principal: Principal,
    tenant_id: str,
    before_delete: TenantDeletionHooks | None = None,
) -> None:
    """Delete a tenant and everything it owns (platform administrators only).

    Deleting a tenant is an administrator's decision to end it, so its running work is stopped, not
    left behind and not a reason to refuse: ``before_delete`` hooks (the scheduler registers one that
    cancels the tenant's jobs and waits until their processes are gone) run once the caller is
    authorised and before the row goes; a hook that raises aborts the deletion with its error.
    """
    tenant = await get_tenant(session=session, principal=principal, tenant_id=tenant_id)
    if not principal.is_platform_admin:
        raise Forbidden("only platform administrators can delete tenants")
    if tenant.name == PLATFORM_TENANT_NAME:
        raise Conflict("the platform tenant cannot be deleted")
    if before_delete is not None:
        await before_delete.run(tenant.id)
    # The cascade over every service's tables can deadlock with a loop still updating one of the
    # tenant's rows (PostgreSQL aborts one side); the deletion then simply runs again.
    await flush_retrying_deadlocks(session, lambda: session.delete(tenant))


def _apply(row: Any, update: Any) -> None:
    for field, value in update.model_dump(exclude_unset=True).items():
        if value is None:
            raise BadRequest(f"field '{field}' cannot be null")
        setattr(row, field, value)


# --- departments and projects ---------------------------------------------------------------


async def create_department(
    *, session: AsyncSession, principal: Principal, tenant_id: str, department_in: schemas.DepartmentCreate
) -> Department:
    """Create a department in ``tenant_id``."""
    principal.require("iam:write", tenant_id=tenant_id)
    await require_tenant(session, tenant_id)
    department = Department(tenant_id=tenant_id, **department_in.model_dump())
    session.add(department)
    await _flush_unique(session, f"department '{department_in.name}'")
    return department


async def get_department(
    *, session: AsyncSession, principal: Principal, tenant_id: str, department_id: str
) -> Department:
    """One department of the tenant."""
    principal.require("iam:read", tenant_id=tenant_id, resource=("department", department_id))
    return await get_scoped(
        session, Department, tenant_id=tenant_id, resource_id=department_id, kind="department"
    )


async def list_departments(
    *, session: AsyncSession, principal: Principal, tenant_id: str, page: PageParams
) -> tuple[list[Department], int]:
    """Departments of the tenant."""
    principal.require("iam:read", tenant_id=tenant_id)
    return await paginate(session, scoped(Department, tenant_id).order_by(Department.name), page)


async def update_department(
    *,
    session: AsyncSession,
    principal: Principal,
    tenant_id: str,
    department_id: str,
    department_in: schemas.DepartmentUpdate,
) -> Department:
    """Change a department."""
    department = await get_department(
        session=session, principal=principal, tenant_id=tenant_id, department_id=department_id
    )
    principal.require("iam:write", tenant_id=tenant_id)
    _apply(department, department_in)
    return department


async def delete_department(
    *, session: AsyncSession, principal: Principal, tenant_id: str, department_id: str
) -> None:
    """Delete an empty department (its projects must be deleted first)."""
    department = await get_department(
        session=session, principal=principal, tenant_id=tenant_id, department_id=department_id
    )
    principal.require("iam:write", tenant_id=tenant_id)
    has_projects = (
        await session.execute(
            scoped(Project, tenant_id).where(Project.department_id == department_id).limit(1)
        )
    ).first()
    if has_projects:
        raise Conflict(f"department '{department_id}' still has projects")
    await session.delete(department)


async def create_project(
    *, session: AsyncSession, principal: Principal, tenant_id: str, project_in: schemas.ProjectCreate
) -> Project:
    """Create a project under one of the tenant's departments."""
    principal.require("iam:write", tenant_id=tenant_id)
    await require_tenant(session, tenant_id)
    await get_scoped(
        session, Department, tenant_id=tenant_id, resource_id=project_in.department_id, kind="department"
    )
    project = Project(tenant_id=tenant_id, **project_in.model_dump())
    session.add(project)
    await _flush_unique(session, f"project '{project_in.name}'")
    return project


async def get_project(
    *, session: AsyncSession, principal: Principal, tenant_id: str, project_id: str
) -> Project:
    """One project of the tenant."""
    principal.require(
        "iam:read", tenant_id=tenant_id, project_id=project_id, resource=("project", project_id)
    )
    return await get_scoped(session, Project, tenant_id=tenant_id, resource_id=project_id, kind="project")


async def list_projects(
    *,
    session: AsyncSession,
    principal: Principal,
    tenant_id: str,
    page: PageParams,
    department_id: str | None = None,
) -> tuple[list[Project], int]:
    """Projects of the tenant the caller may see, optionally of one department.

    Tenant-wide ``iam:read`` sees all; project-scoped bindings see only their projects.
    """
    principal.ensure_visible(tenant_id)
    query = scoped(Project, tenant_id).order_by(Project.name)
    if not principal.can("iam:read", tenant_id=tenant_id):
        query = query.where(Project.id.in_(principal.project_ids_with("iam:read")))
    if department_id is not None:
        query = query.where(Project.department_id == department_id)
    return await paginate(session, query, page)


async def update_project(
    *,
    session: AsyncSession,
    principal: Principal,
    tenant_id: str,
    project_id: str,
    project_in: schemas.ProjectUpdate,
) -> Project:
    """Change a project."""
    project = await get_project(
        session=session, principal=principal, tenant_id=tenant_id, project_id=project_id
    )
    principal.require("iam:write", tenant_id=tenant_id)
    _apply(project, project_in)
    return project


async def delete_project(
    *, session: AsyncSession, principal: Principal, tenant_id: str, project_id: str
) -> None:
    """Delete a project."""
    project = await get_project(
        session=session, principal=principal, tenant_id=tenant_id, project_id=project_id
    )
    principal.require("iam:write", tenant_id=tenant_id)
    await session.delete(project)


# --- principals -----------------------------------------------------------------------------


async def create_user(
    *, session: AsyncSession, principal: Principal, tenant_id: str, user_in: schemas.UserCreate
) -> User:
    """Create a user in the tenant."""
    principal.require("iam:write", tenant_id=tenant_id)
    await require_tenant(session, tenant_id)
    user = User(tenant_id=tenant_id, name=user_in.name, email=user_in.email)
    session.add(user)
    await _flush_unique(session, f"user '{user_in.name}'")
    return user


async def get_user(*, session: AsyncSession, principal: Principal, tenant_id: str, user_id: str) -> User:
    """One user of the tenant."""
    principal.require("iam:read", tenant_id=tenant_id, resource=("user", user_id))
    return await get_scoped(session, User, tenant_id=tenant_id, resource_id=user_id, kind="user")


async def list_users(
    *, session: AsyncSession, principal: Principal, tenant_id: str, page: PageParams
) -> tuple[list[User], int]:
    """Users of the tenant."""
    principal.require("iam:read", tenant_id=tenant_id)
    return await paginate(session, scoped(User, tenant_id).order_by(User.name), page)


async def update_user(
    *, session: AsyncSession, principal: Principal, tenant_id: str, user_id: str, user_in: schemas.UserUpdate
) -> User:
    """Change a user's e-mail or status."""
    user = await get_user(session=session, principal=principal, tenant_id=tenant_id, user_id=user_id)
    principal.require("iam:write", tenant_id=tenant_id)
    if user.id == principal.id and user_in.status == "disabled":
        raise Conflict("you cannot disable yourself")
    _apply(user, user_in)
    return user


async def delete_user(*, session: AsyncSession, principal: Principal, tenant_id: str, user_id: str) -> None:
    """Delete a user with its keys and role bindings."""
    user = await get_user(session=session, principal=principal, tenant_id=tenant_id, user_id=user_id)
    principal.require("iam:write", tenant_id=tenant_id)
    if user.id == principal.id:
        raise Conflict("you cannot delete yourself")
    await _delete_principal_rows(session, tenant_id, user.id)
    await session.delete(user)


async def _delete_principal_rows(session: AsyncSession, tenant_id: str, principal_id: str) -> None:
    for model in (ApiKey, RoleBinding):
        rows = (
            await session.execute(scoped(model, tenant_id).where(model.principal_id == principal_id))
        ).scalars()
        for row in rows:
            await session.delete(row)


async def create_service_account(
    *, session: AsyncSession, principal: Principal, tenant_id: str, account_in: schemas.ServiceAccountCreate
) -> ServiceAccount:
    """Create a service account, optionally tied to one of the tenant's projects."""
    principal.require("iam:write", tenant_id=tenant_id)
    await require_tenant(session, tenant_id)
    if account_in.project_id is not None:
        await get_scoped(
            session, Project, tenant_id=tenant_id, resource_id=account_in.project_id, kind="project"
        )
    account = ServiceAccount(tenant_id=tenant_id, **account_in.model_dump())
    session.add(account)
    await _flush_unique(session, f"service account '{account_in.name}'")
    return account


async def get_service_account(
    *, session: AsyncSession, principal: Principal, tenant_id: str, account_id: str
) -> ServiceAccount:
    """One service account of the tenant."""
    principal.require("iam:read", tenant_id=tenant_id, resource=("service account", account_id))
    return await get_scoped(
        session, ServiceAccount, tenant_id=tenant_id, resource_id=account_id, kind="service account"
    )


async def list_service_accounts(
    *, session: AsyncSession, principal: Principal, tenant_id: str, page: PageParams
) -> tuple[list[ServiceAccount], int]:
    """Service accounts of the tenant."""
    principal.require("iam:read", tenant_id=tenant_id)
    return await paginate(session, scoped(ServiceAccount, tenant_id).order_by(ServiceAccount.name), page)


async def delete_service_account(
    *, session: AsyncSession, principal: Principal, tenant_id: str, account_id: str
) -> None:
    """Delete a service account with its keys and bindings."""
    account = await get_service_account(
        session=session, principal=principal, tenant_id=tenant_id, account_id=account_id
    )
    principal.require("iam:write", tenant_id=tenant_id)
    await _delete_principal_rows(session, tenant_id, account.id)
    await session.delete(account)


async def _resolve_principal(session: AsyncSession, tenant_id: str, principal_id: str) -> tuple[str, str]:
    """(type, id) of a user or service account of the tenant, or NotFound."""
    if principal_id.startswith("usr_"):
        user = await get_scoped(session, User, tenant_id=tenant_id, resource_id=principal_id, kind="user")
        return "user", user.id
    if principal_id.startswith("sa_"):
        account = await get_scoped(
            session, ServiceAccount, tenant_id=tenant_id, resource_id=principal_id, kind="service account"
        )
        return "service_account", account.id
    raise NotFound.of("principal", principal_id)


# --- API keys --------------------------------------------------------------------------------


async def create_api_key(
    *, session: AsyncSession, principal: Principal, tenant_id: str, key_in: schemas.ApiKeyCreate, secret: str
) -> tuple[ApiKey, str]:
    """Mint a key; returns the row and the token, which is never retrievable again.

    Anyone may mint keys for themselves; keys for other principals need ``iam:write``.
    """
    target_id = key_in.principal_id or principal.id
    if target_id == principal.id and tenant_id == principal.tenant_id:
        principal_type = principal.kind
    elif key_in.principal_id is None:
        principal.ensure_visible(tenant_id)
        raise BadRequest("principal_id is required to create a key in a tenant other than your own")
    else:
        principal.require("iam:write", tenant_id=tenant_id)
        principal_type, target_id = await _resolve_principal(session, tenant_id, target_id)
    issued = issue_key(secret=secret)
    expires_at = utcnow() + timedelta(days=key_in.expires_in_days) if key_in.expires_in_days else None
    key = ApiKey(
        tenant_id=tenant_id,
        lookup=issued.lookup,
        key_hash=issued.key_hash,
        name=key_in.name,
        principal_type=principal_type,
        principal_id=target_id,
        expires_at=expires_at,
    )
    session.add(key)
    await session.flush()
    return key, issued.token


def _can_manage_key(principal: Principal, key: ApiKey) -> bool:
    return key.principal_id == principal.id or principal.can("iam:write", tenant_id=key.tenant_id)


async def list_api_keys(
    *, session: AsyncSession, principal: Principal, tenant_id: str, page: PageParams
) -> tuple[list[ApiKey], int]:
    """Keys of the tenant (``iam:read``), or only the caller's own keys otherwise."""
    principal.ensure_visible(tenant_id)
    query = scoped(ApiKey, tenant_id).order_by(ApiKey.created_at, ApiKey.id)
    if not principal.can("iam:read", tenant_id=tenant_id):
        query = query.where(ApiKey.principal_id == principal.id)
    return await paginate(session, query, page)


async def revoke_api_key(
    *, session: AsyncSession, principal: Principal, tenant_id: str, key_id: str
) -> ApiKey:
    """Revoke a key at once (idempotent). Your own keys, or any with ``iam:write``."""
    principal.ensure_visible(tenant_id, ("api key", key_id))
    key = await get_scoped(session, ApiKey, tenant_id=tenant_id, resource_id=key_id, kind="api key")
    if not _can_manage_key(principal, key):
        raise Forbidden("permission 'iam:write' is required to revoke another principal's key")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key


# --- role bindings ---------------------------------------------------------------------------


async def create_role_binding(
    *, session: AsyncSession, principal: Principal, tenant_id: str, binding_in: schemas.RoleBindingCreate
) -> RoleBinding:
    """Grant a role. ``platform-admin`` only inside the platform tenant and only by a platform admin."""
    principal.require("iam:write", tenant_id=tenant_id)
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound.of("tenant", tenant_id)
    if binding_in.role is Role.PLATFORM_ADMIN and (
        not principal.is_platform_admin or tenant.name != PLATFORM_TENANT_NAME
    ):
        raise Forbidden("platform-admin can only be granted by a platform admin inside the platform tenant")
    if binding_in.project_id is not None:
        if binding_in.role in TENANT_SCOPED_ROLES:
            raise BadRequest(
                f"role '{binding_in.role.value}' can only be granted tenant-wide (omit project_id)"
            )
        await get_scoped(
            session, Project, tenant_id=tenant_id, resource_id=binding_in.project_id, kind="project"
        )
    principal_type, principal_id = await _resolve_principal(session, tenant_id, binding_in.principal_id)
    binding = RoleBinding(
        tenant_id=tenant_id,
        principal_type=principal_type,
        principal_id=principal_id,
        role=binding_in.role.value,
        project_id=binding_in.project_id,
    )
    session.add(binding)
    await _flush_unique(session, "this role binding")
    return binding


async def list_role_bindings(
    *,
    session: AsyncSession,
    principal: Principal,
    tenant_id: str,
    page: PageParams,
    principal_id: str | None = None,
) -> tuple[list[RoleBinding], int]:
    """Role bindings of the tenant, optionally of one principal."""
    principal.require("iam:read", tenant_id=tenant_id)
    query = scoped(RoleBinding, tenant_id).order_by(RoleBinding.created_at, RoleBinding.id)
    if principal_id is not None:
        query = query.where(RoleBinding.principal_id == principal_id)
    return await paginate(session, query, page)


async def delete_role_binding(
    *, session: AsyncSession, principal: Principal, tenant_id: str, binding_id: str
) -> None:
    """Remove a role binding; nobody can remove their own platform-admin binding."""
    principal.ensure_visible(tenant_id, ("role binding", binding_id))
    binding = await get_scoped(
        session, RoleBinding, tenant_id=tenant_id, resource_id=binding_id, kind="role binding"
    )
    principal.require("iam:write", tenant_id=tenant_id)
    if binding.role == Role.PLATFORM_ADMIN.value:
        if not principal.is_platform_admin:
            raise Forbidden("only platform admins can remove platform-admin bindings")
        if binding.principal_id == principal.id:
            raise Conflict("you cannot remove your own platform-admin binding")
    await session.delete(binding)
