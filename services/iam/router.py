"""HTTP routes of the IAM service (``/v1/tenants/...`` and ``/v1/me``). No logic here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status

from services.iam import schemas, service
from services.kernel.deps import CurrentPrincipal, SessionDep, SettingsDep
from services.kernel.pagination import Page, PageDep, page_of
from services.kernel.tenant_hooks import tenant_deletion_hooks
from services.kernel.types import ResourceIdPattern

router = APIRouter(prefix="/v1", tags=["iam"])

TenantId = Annotated[str, Path(pattern=ResourceIdPattern, description="Tenant id (ten_…)")]
DepartmentId = Annotated[str, Path(pattern=ResourceIdPattern)]
ProjectId = Annotated[str, Path(pattern=ResourceIdPattern)]
UserId = Annotated[str, Path(pattern=ResourceIdPattern)]
AccountId = Annotated[str, Path(pattern=ResourceIdPattern)]
KeyId = Annotated[str, Path(pattern=ResourceIdPattern)]
BindingId = Annotated[str, Path(pattern=ResourceIdPattern)]
OptionalIdFilter = Annotated[str | None, Query(pattern=ResourceIdPattern)]


@router.get("/me", response_model=schemas.WhoAmI, summary="The calling principal")
async def whoami(principal: CurrentPrincipal) -> schemas.WhoAmI:
    return schemas.WhoAmI(
        id=principal.id,
        kind=principal.kind,
        name=principal.name,
        tenant_id=principal.tenant_id,
        key_id=principal.key_id,
        is_platform_admin=principal.is_platform_admin,
        roles=sorted(r.value for r in principal.roles),
        project_permissions={p: sorted(perms) for p, perms in principal.project_permissions.items()},
    )


# --- tenants ---


@router.post("/tenants", response_model=schemas.TenantOut, status_code=status.HTTP_201_CREATED)
async def create_tenant(
    body: schemas.TenantCreate, session: SessionDep, principal: CurrentPrincipal
) -> object:
    return await service.create_tenant(session=session, principal=principal, tenant_in=body)


@router.get("/tenants", response_model=Page[schemas.TenantOut])
async def list_tenants(session: SessionDep, principal: CurrentPrincipal, page: PageDep) -> object:
    items, total = await service.list_tenants(session=session, principal=principal, page=page)
    return page_of(items, total, page)


@router.get("/tenants/{tenant_id}", response_model=schemas.TenantOut)
async def get_tenant(tenant_id: TenantId, session: SessionDep, principal: CurrentPrincipal) -> object:
    return await service.get_tenant(session=session, principal=principal, tenant_id=tenant_id)


@router.patch("/tenants/{tenant_id}", response_model=schemas.TenantOut)
async def update_tenant(
    tenant_id: TenantId, body: schemas.TenantUpdate, session: SessionDep, principal: CurrentPrincipal
) -> object:
    return await service.update_tenant(
        session=session, principal=principal, tenant_id=tenant_id, tenant_in=body
    )


@router.delete("/tenants/{tenant_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_tenant(
    tenant_id: TenantId, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> None:
    await service.delete_tenant(
        session=session,
        principal=principal,
        tenant_id=tenant_id,
        before_delete=tenant_deletion_hooks(request.app),
    )


# --- departments ---


@router.post(
    "/tenants/{tenant_id}/departments",
    response_model=schemas.DepartmentOut,
    status_code=status.HTTP_201_CREATED,
)
async def create_department(
    tenant_id: TenantId, body: schemas.DepartmentCreate, session: SessionDep, principal: CurrentPrincipal
) -> object:
    return await service.create_department(
        session=session, principal=principal, tenant_id=tenant_id, department_in=body
    )


@router.get("/tenants/{tenant_id}/departments", response_model=Page[schemas.DepartmentOut])
async def list_departments(
    tenant_id: TenantId, session: SessionDep, principal: CurrentPrincipal, page: PageDep
) -> object:
    items, total = await service.list_departments(
        session=session, principal=principal, tenant_id=tenant_id, page=page
    )
    return page_of(items, total, page)


@router.get("/tenants/{tenant_id}/departments/{department_id}", response_model=schemas.DepartmentOut)
async def get_department(
    tenant_id: TenantId, department_id: DepartmentId, session: SessionDep, principal: CurrentPrincipal
) -> object:
    return await service.get_department(
        session=session, principal=principal, tenant_id=tenant_id, department_id=department_id
    )


@router.patch("/tenants/{tenant_id}/departments/{department_id}", response_model=schemas.DepartmentOut)
async def update_department(
    tenant_id: TenantId,
    department_id: DepartmentId,
    body: schemas.DepartmentUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> object:
    return await service.update_department(
        session=session,
        principal=principal,
        tenant_id=tenant_id,
        department_id=department_id,
        department_in=body,
    )


@router.delete("/tenants/{tenant_id}/departments/{department_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_department(
    tenant_id: TenantId, department_id: DepartmentId, session: SessionDep, principal: CurrentPrincipal
) -> None:
    await service.delete_department(
        session=session, principal=principal, tenant_id=tenant_id, department_id=department_id
    )


# --- projects ---


@router.post(
    "/tenants/{tenant_id}/projects", response_model=schemas.ProjectOut, status_code=status.HTTP_201_CREATED
)
async def create_project(
    tenant_id: TenantId, body: schemas.ProjectCreate, session: SessionDep, principal: CurrentPrincipal
) -> object:
    return await service.create_project(
        session=session, principal=principal, tenant_id=tenant_id, project_in=body
    )


@router.get("/tenants/{tenant_id}/projects", response_model=Page[schemas.ProjectOut])
async def list_projects(
    tenant_id: TenantId,
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    department_id: OptionalIdFilter = None,
) -> object:
    items, total = await service.list_projects(
        session=session, principal=principal, tenant_id=tenant_id, page=page, department_id=department_id
    )
    return page_of(items, total, page)


@router.get("/tenants/{tenant_id}/projects/{project_id}", response_model=schemas.ProjectOut)
async def get_project(
    tenant_id: TenantId, project_id: ProjectId, session: SessionDep, principal: CurrentPrincipal
) -> object:
    return await service.get_project(
        session=session, principal=principal, tenant_id=tenant_id, project_id=project_id
    )


@router.patch("/tenants/{tenant_id}/projects/{project_id}", response_model=schemas.ProjectOut)
async def update_project(
    tenant_id: TenantId,
    project_id: ProjectId,
    body: schemas.ProjectUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> object:
    return await service.update_project(
        session=session, principal=principal, tenant_id=tenant_id, project_id=project_id, project_in=body
    )


@router.delete("/tenants/{tenant_id}/projects/{project_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_project(
    tenant_id: TenantId, project_id: ProjectId, session: SessionDep, principal: CurrentPrincipal
) -> None:
    await service.delete_project(
        session=session, principal=principal, tenant_id=tenant_id, project_id=project_id
    )


# --- users ---


@router.post(
    "/tenants/{tenant_id}/users", response_model=schemas.UserOut, status_code=status.HTTP_201_CREATED
)
async def create_user(
    tenant_id: TenantId, body: schemas.UserCreate, session: SessionDep, principal: CurrentPrincipal
) -> object:
    return await service.create_user(session=session, principal=principal, tenant_id=tenant_id, user_in=body)


@router.get("/tenants/{tenant_id}/users", response_model=Page[schemas.UserOut])
async def list_users(
    tenant_id: TenantId, session: SessionDep, principal: CurrentPrincipal, page: PageDep
) -> object:
    items, total = await service.list_users(
        session=session, principal=principal, tenant_id=tenant_id, page=page
    )
    return page_of(items, total, page)


@router.get("/tenants/{tenant_id}/users/{user_id}", response_model=schemas.UserOut)
async def get_user(
    tenant_id: TenantId, user_id: UserId, session: SessionDep, principal: CurrentPrincipal
) -> object:
    return await service.get_user(session=session, principal=principal, tenant_id=tenant_id, user_id=user_id)


@router.patch("/tenants/{tenant_id}/users/{user_id}", response_model=schemas.UserOut)
async def update_user(
    tenant_id: TenantId,
    user_id: UserId,
    body: schemas.UserUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> object:
    return await service.update_user(
        session=session, principal=principal, tenant_id=tenant_id, user_id=user_id, user_in=body
    )


@router.delete("/tenants/{tenant_id}/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(
    tenant_id: TenantId, user_id: UserId, session: SessionDep, principal: CurrentPrincipal
) -> None:
    await service.delete_user(session=session, principal=principal, tenant_id=tenant_id, user_id=user_id)


# --- service accounts ---


@router.post(
    "/tenants/{tenant_id}/service-accounts",
    response_model=schemas.ServiceAccountOut,
    status_code=status.HTTP_201_CREATED,
)
async def create_service_account(
    tenant_id: TenantId, body: schemas.ServiceAccountCreate, session: SessionDep, principal: CurrentPrincipal
) -> object:
    return await service.create_service_account(
        session=session, principal=principal, tenant_id=tenant_id, account_in=body
    )


@router.get("/tenants/{tenant_id}/service-accounts", response_model=Page[schemas.ServiceAccountOut])
async def list_service_accounts(
    tenant_id: TenantId, session: SessionDep, principal: CurrentPrincipal, page: PageDep
) -> object:
    items, total = await service.list_service_accounts(
        session=session, principal=principal, tenant_id=tenant_id, page=page
    )
    return page_of(items, total, page)


@router.get("/tenants/{tenant_id}/service-accounts/{account_id}", response_model=schemas.ServiceAccountOut)
async def get_service_account(
    tenant_id: TenantId, account_id: AccountId, session: SessionDep, principal: CurrentPrincipal
) -> object:
    return await service.get_service_account(
        session=session, principal=principal, tenant_id=tenant_id, account_id=account_id
    )


@router.delete("/tenants/{tenant_id}/service-accounts/{account_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_service_account(
    tenant_id: TenantId, account_id: AccountId, session: SessionDep, principal: CurrentPrincipal
) -> None:
    await service.delete_service_account(
        session=session, principal=principal, tenant_id=tenant_id, account_id=account_id
    )


# --- API keys ---


@router.post(
    "/tenants/{tenant_id}/api-keys", response_model=schemas.ApiKeyCreated, status_code=status.HTTP_201_CREATED
)
async def create_api_key(
    tenant_id: TenantId,
    body: schemas.ApiKeyCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> object:
    key, token = await service.create_api_key(
        session=session, principal=principal, tenant_id=tenant_id, key_in=body, secret=settings.secret_key
    )
    return schemas.ApiKeyCreated(**schemas.ApiKeyOut.model_validate(key).model_dump(), token=token)


@router.get("/tenants/{tenant_id}/api-keys", response_model=Page[schemas.ApiKeyOut])
async def list_api_keys(
    tenant_id: TenantId, session: SessionDep, principal: CurrentPrincipal, page: PageDep
) -> object:
    items, total = await service.list_api_keys(
        session=session, principal=principal, tenant_id=tenant_id, page=page
    )
    return page_of(items, total, page)


@router.delete("/tenants/{tenant_id}/api-keys/{key_id}", response_model=schemas.ApiKeyOut)
async def revoke_api_key(
    tenant_id: TenantId, key_id: KeyId, session: SessionDep, principal: CurrentPrincipal
) -> object:
    return await service.revoke_api_key(
        session=session, principal=principal, tenant_id=tenant_id, key_id=key_id
    )


# --- role bindings ---


@router.post(
    "/tenants/{tenant_id}/role-bindings",
    response_model=schemas.RoleBindingOut,
    status_code=status.HTTP_201_CREATED,
)
async def create_role_binding(
    tenant_id: TenantId, body: schemas.RoleBindingCreate, session: SessionDep, principal: CurrentPrincipal
) -> object:
    return await service.create_role_binding(
        session=session, principal=principal, tenant_id=tenant_id, binding_in=body
    )


@router.get("/tenants/{tenant_id}/role-bindings", response_model=Page[schemas.RoleBindingOut])
async def list_role_bindings(
    tenant_id: TenantId,
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    principal_id: OptionalIdFilter = None,
) -> object:
    items, total = await service.list_role_bindings(
        session=session, principal=principal, tenant_id=tenant_id, page=page, principal_id=principal_id
    )
    return page_of(items, total, page)


@router.delete("/tenants/{tenant_id}/role-bindings/{binding_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_role_binding(
    tenant_id: TenantId, binding_id: BindingId, session: SessionDep, principal: CurrentPrincipal
) -> None:
    await service.delete_role_binding(
        session=session, principal=principal, tenant_id=tenant_id, binding_id=binding_id
    )
