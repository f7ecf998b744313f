"""Assessment probes for multi-level quotas (6.4.4 a, 6.2.4.1 g)."""

from __future__ import annotations

from services.assessment.probes.base import ProbeContext, ProbeResult
from services.iam.probes import ProbeTenant

RESOURCE = "accelerators/probe-accelerator"


class MultiLevelQuotaProbe:
    """Quotas at tenant, department and project level are kept nested and enforced at each level."""

    name = "quotas.multi-level"
    clause_ids = ("6.4.4.a", "6.2.4.1.g")

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        """Set 8 / 4 / 2 at the three levels, then reserve within and beyond them."""
        tenant = ProbeTenant(ctx, "quota")
        try:
            await tenant.create("developer")
            base = f"/v1/tenants/{tenant.id}"
            levels = {
                "tenant": (f"{base}/quota", 8),
                "department": (f"{base}/departments/{tenant.department_id}/quota", 4),
                "project": (f"{base}/projects/{tenant.project_id}/quota", 2),
            }
            for level, (path, limit) in levels.items():
                response = await ctx.put(path, json={"limits": {RESOURCE: limit}})
                ctx.require(
                    response.status_code == 200, f"setting the {level} quota answered {response.status_code}"
                )

            too_big = await ctx.put(levels["project"][0], json={"limits": {RESOURCE: 5}})
            ctx.require(
                too_big.status_code == 409,
                f"a project quota above its department's was answered {too_big.status_code}, expected 409",
            )
            developer = tenant.auth("developer")
            within = await ctx.post(
                f"{base}/reservations",
                json={"project_id": tenant.project_id, "owner": "probe:within", "resources": {RESOURCE: 2}},
                authenticated=False,
                headers=developer,
            )
            ctx.require(
                within.status_code == 201, f"a reservation within every quota answered {within.status_code}"
            )
            beyond = await ctx.post(
                f"{base}/reservations",
                json={"project_id": tenant.project_id, "owner": "probe:beyond", "resources": {RESOURCE: 1}},
                authenticated=False,
                headers=developer,
            )
            ctx.require(
                beyond.status_code == 409,
                f"a reservation beyond the project quota answered {beyond.status_code}",
            )
            level = beyond.json().get("detail", {}).get("level")
            ctx.require(level == "project", f"the refusal named level {level!r}, expected 'project'")

            tree = await ctx.get(f"{base}/quotas")
            ctx.require(tree.status_code == 200, f"reading the quota tree answered {tree.status_code}")
            body = tree.json()
            used = [body["tenant"]["used"].get(RESOURCE), body["departments"][0]["used"].get(RESOURCE)]
            used.append(body["projects"][0]["used"].get(RESOURCE))
            ctx.require(
                used == [2, 2, 2], f"usage at tenant/department/project was {used}, expected 2 at each"
            )

            released = await ctx.delete(f"{base}/reservations/{within.json()['id']}")
            ctx.require(released.status_code == 200, f"releasing answered {released.status_code}")
            after = (await ctx.get(f"{base}/quota")).json()["used"].get(RESOURCE, 0)
            ctx.require(after == 0, f"after release the tenant still shows {after} in use")
            return ctx.verified(
                "nested tenant/department/project quotas; child above parent refused; reservations accounted "
                "and refused at the exceeded level; release returns usage"
            )
        finally:
            await tenant.delete()


PROBES = (MultiLevelQuotaProbe(),)
