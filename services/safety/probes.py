"""Assessment probe for governance of generated content (6.4.2 b), through the public API.

In a throw-away tenant the probe uploads a small rule pack of its own (a malformed one must be
refused naming the field, a viewer must not upload), then checks that an input is refused, an
output masked, and an input sent to human review; that a streamed output is stopped on a term
split across chunks; that rolling the pack forward and back changes the decisions and that the
pack applies to its tenant only; that the review item can be claimed and approved with who and
when recorded; that an evaluation reports precision and recall (with values the probe works out
for itself); and that every decision is in the audit log as an SM3 of the text, never the text.

Reading of the clause recorded in the result: keyword, regex and PII detection are exercised;
the semantic stage is reported as enabled or not (it is optional, off by default); multimodal
detection is not implemented by STIC and the message says so.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from services.assessment.digest import sm3_hex
from services.assessment.probes.base import ProbeContext, ProbeResult
from services.iam.probes import ProbeTenant

REFUSED_INPUT = "Please sell me some probe-contraband tonight."
MASKED_OUTPUT = "Call me on 13812345678, the code is probe-secret-4821."
REVIEW_INPUT = "I need probe-escalate help right now."
STREAM_CHUNKS = ["Sure, here is what you asked about: probe-contra", "band, delivered to your door."]
LABELLED = [
    {"text": "probe-contraband for sale", "labels": ["contraband"], "action": "refuse"},
    {"text": "spelled out: p r o b e contraband", "labels": ["contraband"], "action": "refuse"},
    {"text": "please probe-escalate this", "labels": ["escalate"], "action": "review"},
    {"text": "a perfectly ordinary sentence", "labels": []},
]
# Expected from LABELLED: contraband tp=1 fn=1 (the spelled-out line is missed), escalate tp=1.
EXPECTED_RATIOS = {"contraband": (1.0, 0.5), "escalate": (1.0, 1.0)}


def probe_pack(version: str, *, with_contraband: bool = True) -> dict[str, Any]:
    """The probe's own rule pack; version 1.1.0 drops the refused category (for the roll-back)."""
    categories: dict[str, Any] = {
        "escalate": {"action": "review", "priority": 80, "keywords": ["probe-escalate"]},
        "secrets": {"action": "mask", "priority": 60, "regexes": [r"\bprobe-secret-[0-9]{4}\b"]},
    }
    if with_contraband:
        categories["contraband"] = {
            "action": "refuse",
            "priority": 100,
            "template": "Refused by the probe pack ({category}).",
            "keywords": ["probe-contraband", "探针违禁品"],
        }
    return {
        "id": "probe",
        "version": version,
        "description": "STIC assessment probe pack",
        "stream_window": 8,
        "categories": categories,
        "pii": {"mobile": {"action": "mask", "priority": 50, "category": "pii"}},
    }


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class _Run:
    """One probe run: the tenant, its paths and the calls the steps share."""

    def __init__(self, ctx: ProbeContext, home: ProbeTenant, away: ProbeTenant) -> None:
        self.ctx = ctx
        self.home = home
        self.away = away
        self.base = f"/v1/tenants/{home.id}/safety"

    async def check(self, role: str, text: str, direction: str, *, base: str | None = None) -> dict[str, Any]:
        headers = self.home.auth(role) if role else None
        response = await self.ctx.post(
            f"{base or self.base}/check",
            json={"text": text, "direction": direction},
            authenticated=headers is None,
            headers=headers,
        )
        self.ctx.require(response.status_code == 200, f"checking a text answered {response.status_code}")
        return _json(response)

    async def upload(self, document: dict[str, Any], *, role: str = "tenant-admin") -> httpx.Response:
        return await self.ctx.post(
            f"{self.base}/packs",
            params={"activate": "true"},
            content=json.dumps(document).encode(),
            authenticated=False,
            headers={**self.home.auth(role), "Content-Type": "application/json"},
        )

    async def activate(self, version_id: str) -> None:
        response = await self.ctx.put(
            f"{self.base}/active-pack",
            json={"pack_version_id": version_id},
            authenticated=False,
            headers=self.home.auth("tenant-admin"),
        )
        self.ctx.require(
            response.status_code == 200, f"activating a pack version answered {response.status_code}"
        )


async def _packs(run: _Run) -> str:
    """Viewer refused, malformed pack refused naming the field, v1.0.0 stored and active."""
    ctx = run.ctx
    viewer = await run.upload(probe_pack("1.0.0"), role="viewer")
    ctx.require(
        viewer.status_code == 403, f"a viewer uploading a rule pack got {viewer.status_code}, expected 403"
    )
    broken = probe_pack("0.0.1")
    broken["categories"]["escalate"]["action"] = "explode"
    bad = await run.upload(broken)
    fields = [problem.get("field") for problem in _json(bad).get("detail") or [] if isinstance(problem, dict)]
    ctx.require(
        bad.status_code == 422 and "categories.escalate.action" in fields,
        f"a pack with an invalid action answered {bad.status_code} naming {fields}, expected 422 naming "
        "categories.escalate.action",
    )
    created = await run.upload(probe_pack("1.0.0"))
    ctx.require(created.status_code == 201, f"uploading the probe pack answered {created.status_code}")
    version_id = str(_json(created).get("id"))
    active = await ctx.get(f"{run.base}/active-pack", authenticated=False, headers=run.home.auth("developer"))
    pack = _json(active).get("pack") or {}
    ctx.require(
        active.status_code == 200
        and pack.get("id") == version_id
        and _json(active).get("source") == "tenant",
        "the uploaded pack is not the tenant's active pack",
    )
    return version_id


async def _decisions(run: _Run) -> dict[str, Any]:
    """Refuse an input, mask an output, send an input to review; returns the review decision."""
    ctx = run.ctx
    refused = await run.check("developer", REFUSED_INPUT, "input")
    ctx.require(
        refused.get("action") == "refuse" and "contraband" in (refused.get("categories") or []),
        f"an input with a refused term was decided {refused.get('action')!r}",
    )
    ctx.require(bool(refused.get("message")), "a refusal came without the refusal message")
    masked = await run.check("developer", MASKED_OUTPUT, "output")
    masked_text = str(masked.get("masked_text") or "")
    ctx.require(
        masked.get("action") == "mask"
        and "13812345678" not in masked_text
        and "probe-secret-4821" not in masked_text
        and "138****5678" in masked_text,
        f"an output with a phone number and a secret was decided {masked.get('action')!r} / {masked_text!r}",
    )
    review = await run.check("developer", REVIEW_INPUT, "input")
    ctx.require(
        review.get("action") == "review" and bool(review.get("review_item_id")),
        f"an input for human review was decided {review.get('action')!r} without a review item",
    )
    ctx.note(
        "stages",
        keyword=True,
        regex=True,
        pii=True,
        semantic=bool(refused.get("semantic")),
        multimodal="not implemented",
    )
    return review


async def _stream(run: _Run) -> None:
    """A refused term split across two chunks stops the stream before it is forwarded."""
    response = await run.ctx.post(
        f"{run.base}/check/stream",
        json={"chunks": STREAM_CHUNKS, "direction": "output"},
        authenticated=False,
        headers=run.home.auth("developer"),
    )
    body = _json(response)
    decision = body.get("decision") or {}
    run.ctx.require(
        response.status_code == 200
        and body.get("stopped") is True
        and decision.get("action") == "refuse"
        and "band" not in str(body.get("forwarded")),
        f"a refused term split across stream chunks was not stopped (status {response.status_code}, "
        f"stopped={body.get('stopped')!r}, forwarded={body.get('forwarded')!r})",
    )


async def _versions(run: _Run, first_id: str) -> None:
    """Roll forward to a version without the refused category, roll back, and stay in the tenant."""
    ctx = run.ctx
    newer = await run.upload(probe_pack("1.1.0", with_contraband=False))
    ctx.require(newer.status_code == 201, f"uploading version 1.1.0 answered {newer.status_code}")
    forward = await run.check("developer", REFUSED_INPUT, "input")
    ctx.require(forward.get("action") == "allow", "after rolling forward the dropped category still decides")
    await run.activate(first_id)
    back = await run.check("developer", REFUSED_INPUT, "input")
    ctx.require(back.get("action") == "refuse", "after rolling back to 1.0.0 the input is no longer refused")
    elsewhere = await run.check("", REFUSED_INPUT, "input", base=f"/v1/tenants/{run.away.id}/safety")
    ctx.require(
        elsewhere.get("action") == "allow"
        and (elsewhere.get("pack") or {}).get("pack_version_id") != first_id,
        "the tenant's pack also applies to another tenant",
    )


async def _review(run: _Run, item_id: str) -> None:
    """Claim and approve the review item as the tenant administrator; who and when are recorded."""
    ctx = run.ctx
    admin = run.home.auth("tenant-admin")
    reviewer = _json(await ctx.get("/v1/me", authenticated=False, headers=admin)).get("id")
    pending = await ctx.get(
        f"{run.base}/reviews", params={"state": "pending"}, authenticated=False, headers=admin
    )
    listed = [item.get("id") for item in _json(pending).get("items") or []]
    ctx.require(item_id in listed, "the review item is not in the pending queue")
    denied = await ctx.post(
        f"{run.base}/reviews/{item_id}/claim", authenticated=False, headers=run.home.auth("developer")
    )
    ctx.require(denied.status_code == 403, f"a developer claiming a review item got {denied.status_code}")
    claimed = await ctx.post(f"{run.base}/reviews/{item_id}/claim", authenticated=False, headers=admin)
    ctx.require(
        claimed.status_code == 200 and _json(claimed).get("claimed_by") == reviewer,
        f"claiming the review item answered {claimed.status_code}",
    )
    approved = await ctx.post(
        f"{run.base}/reviews/{item_id}/approve", json={"note": "probe"}, authenticated=False, headers=admin
    )
    item = _json(approved)
    history = [event.get("action") for event in item.get("history") or []]
    ctx.require(
        approved.status_code == 200
        and item.get("state") == "approved"
        and item.get("decided_by") == reviewer
        and bool(item.get("decided_at"))
        and history == ["submit", "claim", "approve"],
        f"approving the review item answered {approved.status_code} with history {history}",
    )


async def _evaluate(run: _Run, version_id: str) -> str:
    """Evaluate the pack on a tiny labelled set; the ratios must be the ones worked out here."""
    ctx = run.ctx
    body = "\n".join(json.dumps(row) for row in LABELLED).encode()
    response = await ctx.post(
        f"{run.base}/packs/{version_id}/evaluate",
        content=body,
        authenticated=False,
        headers={**run.home.auth("tenant-admin"), "Content-Type": "application/x-ndjson"},
    )
    ctx.require(response.status_code == 200, f"evaluating the pack answered {response.status_code}")
    per_category = _json(response).get("per_category") or {}
    for name, (precision, recall) in EXPECTED_RATIOS.items():
        counts = per_category.get(name) or {}
        ctx.require(
            counts.get("precision") == precision and counts.get("recall") == recall,
            f"evaluation of {name}: precision/recall {counts.get('precision')}/{counts.get('recall')}, "
            f"expected {precision}/{recall}",
        )
    return sm3_hex(body)


async def _audited(run: _Run, *, item_id: str, labelled_sm3: str) -> None:
    """Decisions, the review and the evaluation are in the audit log, texts only as SM3."""
    ctx = run.ctx
    response = await ctx.get(
        "/v1/audit/events",
        params={"tenant_id": run.home.id, "category": "content_safety", "limit": 1000},
        authenticated=False,
        headers=run.home.auth("tenant-admin"),
    )
    ctx.require(response.status_code == 200, f"querying the audit log answered {response.status_code}")
    entries = _json(response).get("items") or []
    details = [((entry.get("document") or {}).get("event") or {}).get("details") or {} for entry in entries]
    actions = [((entry.get("document") or {}).get("event") or {}).get("action") for entry in entries]
    checked = {
        (d.get("decision") or {}).get("text_sm3"): (d.get("decision") or {}).get("action") for d in details
    }
    for text, action in ((REFUSED_INPUT, "refuse"), (MASKED_OUTPUT, "mask"), (REVIEW_INPUT, "review")):
        ctx.require(
            checked.get(sm3_hex(text.encode())) == action,
            f"the {action} decision is not in the audit log under the SM3 of its text",
        )
    raw = json.dumps(entries, ensure_ascii=False)
    ctx.require(
        not any(text in raw for text in (REFUSED_INPUT, MASKED_OUTPUT, REVIEW_INPUT, "13812345678")),
        "a checked text appears in clear in the audit log",
    )
    reviewed = [
        d
        for d, a in zip(details, actions, strict=True)
        if a == "safety.review.approve" and (d.get("review") or {}).get("item_id") == item_id
    ]
    ctx.require(bool(reviewed), "the review approval is not in the audit log")
    ctx.require(
        any(d.get("labelled_sm3") == labelled_sm3 for d in details), "the evaluation is not in the audit log"
    )


class ContentGovernanceProbe:
    """Configurable checks on inputs and outputs, rule packs, review, audit and evaluation (6.4.2 b)."""

    name = "safety.content-governance"
    clause_ids = ("6.4.2.b",)

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        """Exercise every part of the clause in a throw-away tenant (see the module docstring)."""
        home = ProbeTenant(ctx, "safety")
        away = ProbeTenant(ctx, "safety-away")
        try:
            await home.create("tenant-admin", "developer", "viewer")
            await away.create()
            run = _Run(ctx, home, away)
            version_id = await _packs(run)
            review = await _decisions(run)
            await _stream(run)
            await _versions(run, version_id)
            item_id = str(review["review_item_id"])
            await _review(run, item_id)
            labelled_sm3 = await _evaluate(run, version_id)
            await _audited(run, item_id=item_id, labelled_sm3=labelled_sm3)
            return ctx.verified(
                "tenant rule packs are validated, versioned and rolled back; inputs are refused or sent "
                "to human review and outputs masked (keywords, regexes, PII), streams stopped across "
                "chunks; the review item was claimed and approved with who and when; evaluation "
                "reported precision/recall; every decision is audited as SM3 only. Multimodal "
                "detection is not implemented; the semantic stage is optional (see the 'stages' note)"
            )
        finally:
            await home.delete()
            await away.delete()


PROBES = (ContentGovernanceProbe(),)
