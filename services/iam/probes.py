"""Assessment probes for tenancy: departments/projects per tenant, roles and isolation.

Clause 6.4.4 a) asks for multi-level department/project resource management; it presupposes
a tenant → department → project hierarchy whose boundaries hold. This probe builds one through
the public API and checks the boundaries: a member sees its project, another tenant's
administrator gets 404 (not 403), a viewer cannot write, a revoked key stops at once.
Everything it creates lives in two throw-away tenants that it deletes at the end.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from services.assessment.probes.base import ProbeContext, ProbeResult


def _body(response: httpx.Response) -> dict[str, Any]:
    data = response.json()
    return data if isinstance(data, dict) else {}


class ProbeTenant:
    """A throw-away tenant with a department, a project and one user+key per requested role."""

    def __init__(self, ctx: ProbeContext, label: str) -> None:
        self.ctx = ctx
        self.name = f"probe-{label}-{uuid.uuid4().hex[:8]}"
        self.id = ""
        self.department_id = ""
        self.project_id = ""
        self.tokens: dict[str, str] = {}
        self.key_ids: dict[str, str] = {}
        self.created_request_id = ""

    async def create(self, *roles: str) -> ProbeTenant:
        """Create the tenant and its members through the API; raises ProbeFailure on any refusal."""
        ctx = self.ctx
        created = await ctx.post("/v1/tenants", json={"name": self.name})
        ctx.require(created.status_code == 201, f"creating a tenant answered {created.status_code}")
        self.id = _body(created)["id"]
        self.created_request_id = created.headers.get("x-request-id", "")
        dep = await ctx.post(f"/v1/tenants/{self.id}/departments", json={"name": "probe-dept"})
        ctx.require(dep.status_code == 201, f"creating a department answered {dep.status_code}")
        self.department_id = _body(dep)["id"]
        prj = await ctx.post(
            f"/v1/tenants/{self.id}/projects",
            json={"name": "probe-proj", "department_id": self.department_id},
        )
        ctx.require(prj.status_code == 201, f"creating a project answered {prj.status_code}")
        self.project_id = _body(prj)["id"]
        for role in roles:
            user = await ctx.post(f"/v1/tenants/{self.id}/users", json={"name": role})
            ctx.require(user.status_code == 201, f"creating a {role} user answered {user.status_code}")
            user_id = _body(user)["id"]
            binding = await ctx.post(
                f"/v1/tenants/{self.id}/role-bindings", json={"principal_id": user_id, "role": role}
            )
            ctx.require(binding.status_code == 201, f"granting {role} answered {binding.status_code}")
            key = await ctx.post(f"/v1/tenants/{self.id}/api-keys", json={"principal_id": user_id})
            ctx.require(key.status_code == 201, f"minting a {role} key answered {key.status_code}")
            self.tokens[role] = _body(key)["token"]
            self.key_ids[role] = _body(key)["id"]
        return self

    def auth(self, role: str) -> dict[str, str]:
        """Headers authenticating as this tenant's ``role`` user."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    async def delete(self) -> None:
        """Remove the tenant and everything in it (best effort: recorded, never raises)."""
        if self.id:
            try:
                await self.ctx.delete(f"/v1/tenants/{self.id}")
            except httpx.HTTPError as exc:
                self.ctx.note("clean-up failed", error=repr(exc))


class TenantIsolationProbe:
    """Hierarchy and boundaries of tenants, departments and projects (6.4.4 a)."""

    name = "iam.tenant-isolation"
    clause_ids = ("6.4.4.a",)

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        """Build two tenants and check visibility, role limits and key revocation."""
        home = ProbeTenant(ctx, "home")
        away = ProbeTenant(ctx, "away")
        try:
            await home.create("tenant-admin", "viewer")
            await away.create("tenant-admin")
            project_path = f"/v1/tenants/{home.id}/projects/{home.project_id}"

            own = await ctx.get(project_path, authenticated=False, headers=home.auth("viewer"))
            ctx.require(own.status_code == 200, f"a member reading its own project got {own.status_code}")

            foreign = await ctx.get(project_path, authenticated=False, headers=away.auth("tenant-admin"))
            ctx.require(
                foreign.status_code == 404,
                f"another tenant's administrator reading the project got {foreign.status_code}, expected 404",
            )
            foreign_write = await ctx.patch(
                project_path,
                json={"display_name": "x"},
                authenticated=False,
                headers=away.auth("tenant-admin"),
            )
            ctx.require(
                foreign_write.status_code == 404,
                f"another tenant's administrator changing the project got {foreign_write.status_code}",
            )
            viewer_write = await ctx.post(
                f"/v1/tenants/{home.id}/departments",
                json={"name": "nope"},
                authenticated=False,
                headers=home.auth("viewer"),
            )
            ctx.require(
                viewer_write.status_code == 403,
                f"a viewer creating a department got {viewer_write.status_code}",
            )

            admin_write = await ctx.post(
                f"/v1/tenants/{home.id}/departments",
                json={"name": "second"},
                authenticated=False,
                headers=home.auth("tenant-admin"),
            )
            ctx.require(
                admin_write.status_code == 201,
                f"a tenant admin creating a department got {admin_write.status_code}",
            )

            revoke = await ctx.delete(f"/v1/tenants/{home.id}/api-keys/{home.key_ids['viewer']}")
            ctx.require(revoke.status_code == 200, f"revoking a key answered {revoke.status_code}")
            after = await ctx.get("/v1/me", authenticated=False, headers=home.auth("viewer"))
            ctx.require(after.status_code == 401, f"a revoked key still answered {after.status_code}")
            return ctx.verified(
                "tenant → department → project hierarchy created; members see their project, "
                "other tenants get 404, viewers cannot write, revoked keys stop at once"
            )
        finally:
            await home.delete()
            await away.delete()


PROBES = (TenantIsolationProbe(),)
