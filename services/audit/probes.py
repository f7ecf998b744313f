"""Assessment probes for the tamper-evident audit log (6.4.4 b) and tool-call audit (6.4.2 c).

Each probe makes the platform record something through its public API, has a checkpoint
signed, then checks *on the probe's side* what an outside auditor would: the SM2 signature
of the checkpoint under the published key, that the leaf hash is SM3(0x00 ‖ entry bytes),
the RFC 9162 inclusion proof, and the consistency proof from an earlier checkpoint.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

from security.auditlog import merkle
from security.auditlog.checkpoint import Checkpoint, open_checkpoint
from security.auditlog.signing import SM2NoteVerifier
from services.assessment.probes.base import ProbeContext, ProbeResult
from services.iam.probes import ProbeTenant


def _event(document: dict[str, Any]) -> dict[str, Any]:
    """The audited event inside a log entry document."""
    event = document.get("event", document)
    return event if isinstance(event, dict) else {}


async def _verifier(ctx: ProbeContext) -> SM2NoteVerifier:
    response = await ctx.get("/v1/audit/public-key")
    ctx.require(response.status_code == 200, f"reading the audit public key answered {response.status_code}")
    body = response.json()
    return SM2NoteVerifier.from_pem(name=body["key_name"], pem=body["public_key_pem"].encode())


async def _sign_checkpoint(ctx: ProbeContext, verifier: SM2NoteVerifier) -> Checkpoint:
    """Have the platform sign a checkpoint now; returns it after checking its signature here."""
    response = await ctx.post("/v1/audit/checkpoints")
    ctx.require(response.status_code == 201, f"signing a checkpoint answered {response.status_code}")
    body = response.json()
    return open_checkpoint(body["note"], verifier, origin=body["origin"])


async def verify_entry(ctx: ProbeContext, index: int, verifier: SM2NoteVerifier) -> dict[str, Any]:
    """Fetch entry ``index`` with its proof and check signature, leaf hash and inclusion locally."""
    response = await ctx.get(f"/v1/audit/entries/{index}")
    ctx.require(response.status_code == 200, f"reading audit entry {index} answered {response.status_code}")
    served = response.json()
    checkpoint = open_checkpoint(
        served["checkpoint"]["note"], verifier, origin=served["checkpoint"]["origin"]
    )
    leaf = merkle.leaf_hash(base64.b64decode(served["entry"]["entry_b64"]))
    ctx.require(
        base64.b64encode(leaf).decode() == served["entry"]["leaf_hash"],
        f"entry {index}: the leaf hash is not SM3(0x00 ‖ entry)",
    )
    proof = [base64.b64decode(p) for p in served["proof"]]
    ctx.require(
        merkle.verify_inclusion(
            leaf=leaf, index=index, size=checkpoint.size, proof=proof, root=checkpoint.root
        ),
        f"entry {index}: the inclusion proof does not verify against the signed checkpoint",
    )
    ctx.note("inclusion verified", index=index, tree_size=checkpoint.size)
    entry: dict[str, Any] = served["entry"]
    return entry


async def _verify_consistency(ctx: ProbeContext, old: Checkpoint, new: Checkpoint) -> None:
    """The newer signed tree must extend the older one (RFC 9162 consistency proof)."""
    ctx.require(
        new.size > old.size, f"the log did not grow ({old.size} → {new.size}) though events were added"
    )
    if old.size == 0:
        return  # every tree extends the empty tree
    response = await ctx.get("/v1/audit/consistency", params={"first": old.size, "second": new.size})
    ctx.require(response.status_code == 200, f"the consistency proof answered {response.status_code}")
    proof = [base64.b64decode(p) for p in response.json()["proof"]]
    ctx.require(
        merkle.verify_consistency(
            old_size=old.size, new_size=new.size, old_root=old.root, new_root=new.root, proof=proof
        ),
        f"the signed log of size {new.size} is not an extension of the signed log of size {old.size}",
    )
    ctx.note("consistency verified", first=old.size, second=new.size)


class TamperEvidentAuditProbe:
    """Resource requests land in a signed, verifiable Merkle log (6.4.4 b)."""

    name = "audit.tamper-evident"
    clause_ids = ("6.4.4.b",)

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        """Create a tenant (a resource request), report a data access and a model download, verify all."""
        verifier = await _verifier(ctx)
        before = await _sign_checkpoint(ctx, verifier)
        tenant = ProbeTenant(ctx, "audit")
        try:
            await tenant.create()
            reported = []
            for category in ("data_access", "model_download"):
                response = await ctx.post(
                    "/v1/audit/events",
                    json={
                        "category": category,
                        "action": f"probe-{category}",
                        "service": "assessment",
                        "resource": f"probe://{uuid.uuid4().hex}",
                        "tenant_id": tenant.id,
                    },
                )
                ctx.require(
                    response.status_code == 201,
                    f"recording a {category} event answered {response.status_code}",
                )
                reported.append(response.json()["index"])
            after = await _sign_checkpoint(ctx, verifier)
            events = await ctx.get(
                "/v1/audit/events",
                params={"all_tenants": "true", "action": "POST /v1/tenants", "after": before.size - 1},
            )
            ctx.require(events.status_code == 200, f"querying audit events answered {events.status_code}")
            mine = [
                e
                for e in events.json()["items"]
                if _event(e["document"]).get("request_id") == tenant.created_request_id
                and _event(e["document"]).get("result") == 201
            ]
            ctx.require(bool(mine), "the tenant creation (a resource request) is not in the audit log")
            for index in [mine[-1]["index"], *reported]:
                await verify_entry(ctx, index, verifier)
            await _verify_consistency(ctx, before, after)
            return ctx.verified(
                "a resource request was recorded automatically and data-access / model-download events "
                "through the API; each verified against an SM2-signed checkpoint with an RFC 9162 "
                "inclusion proof"
            )
        finally:
            await tenant.delete()


class ToolCallAuditProbe:
    """External tool / plug-in calls are recorded with their risk decision, verifiably (6.4.2 c)."""

    name = "audit.tool-calls"
    clause_ids = ("6.4.2.c",)

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        """Record a denied tool call, find it by decision, and verify its inclusion."""
        verifier = await _verifier(ctx)
        tool = f"probe-web-fetch-{uuid.uuid4().hex[:8]}"
        recorded = await ctx.post(
            "/v1/audit/tool-calls",
            json={
                "tool": tool,
                "arguments": {"url": "http://example.invalid/secret"},
                "decision": "deny",
                "reason": "destination outside the allow-list",
                "risk_score": 90,
            },
        )
        ctx.require(recorded.status_code == 201, f"recording a tool call answered {recorded.status_code}")
        index = recorded.json()["index"]
        found = await ctx.get("/v1/audit/tool-calls", params={"tool": tool, "decision": "deny"})
        ctx.require(found.status_code == 200, f"querying tool calls answered {found.status_code}")
        items = found.json()["items"]
        ctx.require(
            [item["index"] for item in items] == [index],
            f"the query by tool and decision returned {len(items)} items",
        )
        ctx.require(
            "http://example.invalid/secret" not in found.text,
            "tool-call arguments are stored in clear, not as a digest",
        )
        await _sign_checkpoint(ctx, verifier)
        entry = await verify_entry(ctx, index, verifier)
        ctx.require(entry["decision"] == "deny", f"the verified entry carries decision {entry['decision']!r}")
        return ctx.verified(
            "tool call recorded with its risk decision (arguments as an SM3 digest), queryable by tool and "
            "decision, and verified in the signed Merkle log"
        )


PROBES = (TamperEvidentAuditProbe(), ToolCallAuditProbe())
