"""Assessment probe for offline batch inference (6.3.3.1 i) through ``/v1/files`` and ``/v1/batches``.

The probe tenant gets an ``openai``-engine service in front of a ready replica of the platform
tenant (see :mod:`inference.probes`), uploads a three-line JSONL, creates a batch, waits for it, and
checks the output file: one answer per line, matched by ``custom_id``, each with usage. The batch's
worker is a scheduler job that reaches the platform over HTTP (``STIC_BATCHES_CONTROL_URL``), so a
deployment whose workers cannot reach it shows here as a batch that never completes.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from inference.probes import InferenceKit
from services.assessment.probes.base import ProbeContext, ProbeFailure, ProbeResult

BATCH_TIMEOUT_S = 150.0
TERMINAL = ("completed", "failed", "expired", "cancelled")
CUSTOM_IDS = ("probe-a", "probe-b", "probe-c")


def batch_input(model: str) -> bytes:
    """Three chat requests for ``model`` as JSON Lines."""
    lines = [
        {
            "custom_id": custom_id,
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {
                "model": model,
                "messages": [{"role": "user", "content": f"Say {custom_id}"}],
                "max_tokens": 4,
            },
        }
        for custom_id in CUSTOM_IDS
    ]
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


class BatchInferenceProbe:
    """Offline batch inference: JSONL in, one answer per line out, with usage."""

    name = "inference.batch"
    clause_ids = ("6.3.3.1.i",)

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        async with InferenceKit(ctx, "batch") as kit:
            upstream = await kit.upstream()
            await kit.openai_service("batch-llm", upstream)
            dev = kit.developer()
            uploaded = await ctx.post(
                "/v1/files",
                files={"file": ("probe.jsonl", batch_input("batch-llm"), "application/jsonl")},
                data={"purpose": "batch"},
                authenticated=False,
                headers=dev,
            )
            ctx.require(uploaded.status_code == 200, f"uploading the input answered {uploaded.status_code}")
            created = await ctx.post(
                "/v1/batches",
                json={
                    "input_file_id": uploaded.json()["id"],
                    "endpoint": "/v1/chat/completions",
                    "completion_window": "24h",
                    "metadata": {"project_id": kit.tenant.project_id},
                },
                authenticated=False,
                headers=dev,
            )
            ctx.require(
                created.status_code == 200,
                f"creating the batch answered {created.status_code}: {created.text}",
            )
            batch = await self._finished(ctx, created.json()["id"], dev)
            try:
                message = await self._check(ctx, batch, dev)
                if await self._on_simulated_node(ctx, kit, batch):
                    return ctx.simulated(f"{message} (worker placed on a simulated node, process real)")
                return ctx.verified(message)
            finally:
                if batch.get("status") not in TERMINAL:
                    await ctx.post(f"/v1/batches/{batch['id']}/cancel", authenticated=False, headers=dev)

    async def _finished(self, ctx: ProbeContext, batch_id: str, dev: dict[str, str]) -> dict[str, Any]:
        deadline = time.monotonic() + BATCH_TIMEOUT_S
        batch: dict[str, Any] = {"id": batch_id}
        while time.monotonic() < deadline:
            got = await ctx.get(f"/v1/batches/{batch_id}", authenticated=False, headers=dev)
            ctx.require(got.status_code == 200, f"GET /v1/batches/{batch_id} answered {got.status_code}")
            batch = dict(got.json())
            if batch["status"] in TERMINAL:
                return batch
            await asyncio.sleep(1.0)
        return batch

    async def _on_simulated_node(self, ctx: ProbeContext, kit: InferenceKit, batch: dict[str, Any]) -> bool:
        """Whether the batch's worker job was placed on a simulated node (as the jobs API says)."""
        job_id = batch.get("job_id")
        ctx.require(bool(job_id), "the batch names no worker job")
        job = await ctx.get(
            f"/v1/tenants/{kit.tenant.id}/jobs/{job_id}", authenticated=False, headers=kit.admin()
        )
        ctx.require(job.status_code == 200, f"GET the batch's worker job answered {job.status_code}")
        return bool(job.json().get("simulated"))

    async def _check(self, ctx: ProbeContext, batch: dict[str, Any], dev: dict[str, str]) -> str:
        """What the completed batch showed; raises :class:`ProbeFailure` when its output is wrong."""
        if batch.get("status") != "completed":
            raise ProbeFailure(
                f"the batch is {batch.get('status')!r} after {BATCH_TIMEOUT_S:.0f} s "
                f"(counts {batch.get('request_counts')}, errors {batch.get('errors')}); its worker must "
                "reach the platform over HTTP"
            )
        counts = batch.get("request_counts") or {}
        ctx.require(
            counts.get("total") == len(CUSTOM_IDS) and counts.get("completed") == len(CUSTOM_IDS),
            f"request counts {counts}, expected {len(CUSTOM_IDS)} completed",
        )
        ctx.require(bool(batch.get("output_file_id")), "a completed batch has no output file")
        content = await ctx.get(
            f"/v1/files/{batch['output_file_id']}/content", authenticated=False, headers=dev
        )
        ctx.require(content.status_code == 200, f"downloading the output answered {content.status_code}")
        lines = [json.loads(line) for line in content.text.splitlines() if line.strip()]
        by_id = {line.get("custom_id"): line for line in lines}
        ctx.require(
            len(lines) == len(CUSTOM_IDS) and set(by_id) == set(CUSTOM_IDS),
            f"output custom_ids {sorted(map(str, by_id))}, expected {list(CUSTOM_IDS)} once each",
        )
        for custom_id, line in by_id.items():
            response = line.get("response") or {}
            body = response.get("body") or {}
            ctx.require(
                response.get("status_code") == 200 and bool(body.get("choices")),
                f"line {custom_id} has no successful answer: {json.dumps(line)[:300]}",
            )
            ctx.require(
                int((body.get("usage") or {}).get("completion_tokens", 0)) >= 1,
                f"line {custom_id} reports no usage",
            )
        ctx.note("batch", batch_id=batch["id"], counts=counts, output_lines=len(lines))
        return (
            f"a {len(CUSTOM_IDS)}-line JSONL batch ran offline through /v1/batches: every line answered "
            "once with its custom_id and usage in the output file"
        )


PROBES = (BatchInferenceProbe(),)
