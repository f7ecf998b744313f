"""``stic admin``: operator commands that act on the database directly (no server needed).

They run as the *system operator* principal (a platform administrator) and every mutation
is recorded in the audit log like an API call.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.iam import schemas as iam_schemas
from services.iam import service as iam_service
from services.kernel.audit import AuditEvent, DatabaseAuditSink
from services.kernel.auth import Principal
from services.kernel.bootstrap import ensure_bootstrap_admin
from services.kernel.db import Database
from services.kernel.identity import Tenant
from services.kernel.migrations import upgrade_database
from services.kernel.permissions import Role
from services.kernel.settings import Settings
from services.quotas import service as quota_service

app = typer.Typer(help="Operator commands acting directly on the platform database.", no_args_is_help=True)
console = Console()
T = TypeVar("T")

FormatOpt = Annotated[str, typer.Option("--format", help="table or json")]


def _operator(platform_tenant_id: str) -> Principal:
    return Principal(
        id="system:cli",
        kind="system",
        name="cli-operator",
        tenant_id=platform_tenant_id,
        key_id="none",
        is_platform_admin=True,
        roles=frozenset({Role.PLATFORM_ADMIN}),
        tenant_permissions=frozenset({"*"}),
    )


def _run(action: str, work: Callable[[AsyncSession, Principal], Awaitable[T]]) -> T:
    async def main() -> T:
        settings = Settings()
        database = Database(settings.database_url)
        try:
            await upgrade_database(settings.database_url)
            state = await ensure_bootstrap_admin(database=database, settings=settings)
            operator = _operator(state.platform_tenant_id)
            async with database.sessionmaker() as session:
                result = await work(session, operator)
                await session.commit()
            await DatabaseAuditSink(database).record(
                AuditEvent(
                    action=f"cli {action}",
                    resource=action,
                    result=0,
                    principal_id=operator.id,
                    tenant_id=operator.tenant_id,
                    request_id=None,
                    service="cli",
                )
            )
            return result
        finally:
            await database.dispose()

    return asyncio.run(main())


async def _tenant_id(session: AsyncSession, tenant: str) -> str:
    row = (
        await session.execute(select(Tenant).where((Tenant.name == tenant) | (Tenant.id == tenant)))
    ).scalar_one_or_none()
    if row is None:
        raise typer.BadParameter(f"no tenant named or with id '{tenant}'")
    return row.id


def _emit(data: dict[str, Any], fmt: str, title: str) -> None:
    if fmt == "json":
        typer.echo(json.dumps(data, default=str))
        return
    table = Table(title=title, show_header=False)
    for key, value in data.items():
        table.add_row(key, str(value))
    console.print(table)


@app.command("create-tenant")
def create_tenant(
    name: Annotated[str, typer.Argument(help="DNS-label name")],
    display_name: Annotated[str, typer.Option(help="Human-readable name")] = "",
    fmt: FormatOpt = "table",
) -> None:
    """Create a tenant."""

    async def work(session: AsyncSession, operator: Principal) -> dict[str, Any]:
        tenant = await iam_service.create_tenant(
            session=session,
            principal=operator,
            tenant_in=iam_schemas.TenantCreate(name=name, display_name=display_name),
        )
        return {"id": tenant.id, "name": tenant.name}

    _emit(_run("create-tenant", work), fmt, "tenant created")


@app.command("create-user")
def create_user(
    tenant: Annotated[str, typer.Argument(help="Tenant name or id")],
    name: Annotated[str, typer.Argument(help="User name")],
    role: Annotated[Role, typer.Option(help="Tenant-wide role to grant")] = Role.DEVELOPER,
    email: Annotated[str | None, typer.Option()] = None,
    fmt: FormatOpt = "table",
) -> None:
    """Create a user in a tenant and grant it a tenant-wide role."""

    async def work(session: AsyncSession, operator: Principal) -> dict[str, Any]:
        tenant_id = await _tenant_id(session, tenant)
        user = await iam_service.create_user(
            session=session,
            principal=operator,
            tenant_id=tenant_id,
            user_in=iam_schemas.UserCreate(name=name, email=email),
        )
        await iam_service.create_role_binding(
            session=session,
            principal=operator,
            tenant_id=tenant_id,
            binding_in=iam_schemas.RoleBindingCreate(principal_id=user.id, role=role),
        )
        return {"id": user.id, "tenant_id": tenant_id, "name": user.name, "role": role.value}

    _emit(_run("create-user", work), fmt, "user created")


@app.command("create-key")
def create_key(
    tenant: Annotated[str, typer.Argument(help="Tenant name or id")],
    principal_id: Annotated[str, typer.Argument(help="User or service account id (usr_… / sa_…)")],
    name: Annotated[str, typer.Option(help="Label for the key")] = "cli",
    expires_in_days: Annotated[int | None, typer.Option(min=1, max=3650)] = None,
    fmt: FormatOpt = "table",
) -> None:
    """Mint an API key for a principal; the key is printed once."""

    async def work(session: AsyncSession, operator: Principal) -> dict[str, Any]:
        tenant_id = await _tenant_id(session, tenant)
        key, token = await iam_service.create_api_key(
            session=session,
            principal=operator,
            tenant_id=tenant_id,
            key_in=iam_schemas.ApiKeyCreate(
                principal_id=principal_id, name=name, expires_in_days=expires_in_days
            ),
            secret=Settings().secret_key,
        )
        return {"id": key.id, "principal_id": key.principal_id, "expires_at": key.expires_at, "token": token}

    _emit(_run("create-key", work), fmt, "API key created (shown once)")


@app.command("list-quotas")
def list_quotas(
    tenant: Annotated[str, typer.Argument(help="Tenant name or id")],
    fmt: FormatOpt = "table",
) -> None:
    """Show a tenant's limits and usage at every level."""

    async def work(session: AsyncSession, operator: Principal) -> dict[str, Any]:
        tenant_id = await _tenant_id(session, tenant)
        tree = await quota_service.quota_tree(session=session, principal=operator, tenant_id=tenant_id)
        return tree.model_dump()

    tree = _run("list-quotas", work)
    if fmt == "json":
        typer.echo(json.dumps(tree))
        return
    table = Table(title=f"quotas of {tenant}")
    for column in ("level", "id", "resource", "used", "limit"):
        table.add_column(column)
    for entry in [tree["tenant"], *tree["departments"], *tree["projects"]]:
        resources = sorted(set(entry["limits"]) | set(entry["used"])) or ["—"]
        for resource in resources:
            limit = entry["limits"].get(resource, "unlimited")
            table.add_row(
                entry["scope_type"],
                entry["scope_id"],
                resource,
                str(entry["used"].get(resource, 0)),
                str(limit),
            )
    console.print(table)
