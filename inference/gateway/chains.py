"""Multi-model orchestration: a chain of model services served as one chat endpoint.

Step 1 receives the client's messages (after its own ``system_prompt``, if any); every later
step receives the previous step's answer as its user message. The client gets the last step's
answer with the usage of all steps summed, and ``stic.steps`` listing what each step did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from inference.gateway.errors import OpenAIError
from inference.gateway.forwarding import forward
from inference.gateway.requests import Operation
from inference.gateway.routing import RequestKey
from inference.gateway.table import RouteEntry, RoutingTable
from inference.gateway.upstream import UpstreamPool


@dataclass
class ChainAnswer:
    """The last step's answer, usage summed over steps, and the replica that gave the last answer."""

    body: dict[str, Any]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    last_replica_id: str | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)


def _text_of(body: dict[str, Any]) -> str:
    choices = body.get("choices") or []
    if not choices:
        return ""
    message = choices[0].get("message") or {}
    content = message.get("content")
    return content if isinstance(content, str) else ""


async def run_chain(
    *,
    route: RouteEntry,
    table: RoutingTable,
    tenant_id: str,
    body: dict[str, Any],
    key: RequestKey,
    http: httpx.AsyncClient,
    headers: dict[str, str],
    max_attempts: int,
    pool: UpstreamPool | None = None,
) -> ChainAnswer:
    """Run every step in order; a failing step ends the chain with its error (naming the step)."""
    assert route.chain is not None
    answer = ChainAnswer(body={})
    messages: list[dict[str, Any]] = list(body["messages"])
    for number, step in enumerate(route.chain.steps, start=1):
        entry = table.service(tenant_id, step.service)
        if entry is None:
            raise OpenAIError(
                503,
                f"Chain '{route.name}' step {number} ('{step.service}') is not serving.",
                code="step_unavailable",
            )
        step_messages = (
            [{"role": "system", "content": step.system_prompt}] if step.system_prompt else []
        ) + messages
        step_body = {**body, "messages": step_messages, "stream": False}
        step_body.pop("stream_options", None)
        if step.max_tokens is not None:
            step_body["max_tokens"] = step.max_tokens
        forwarded = await forward(
            entry=entry,
            operation=Operation.CHAT,
            body=step_body,
            key=key,
            http=http,
            headers=headers,
            max_attempts=max_attempts,
            pool=pool,
        )
        response = forwarded.response
        if not response.ok:
            error = response.body.get("error") if isinstance(response.body, dict) else None
            detail = error.get("message") if isinstance(error, dict) else str(response.body)[:500]
            raise OpenAIError(
                response.status_code if response.status_code < 500 else 502,
                f"Chain '{route.name}' step {number} ('{step.service}') failed: {detail}",
                code="chain_step_failed",
            )
        usage = response.body.get("usage") or {}
        answer.prompt_tokens += int(usage.get("prompt_tokens") or 0)
        answer.completion_tokens += int(usage.get("completion_tokens") or 0)
        answer.last_replica_id = forwarded.replica_id
        answer.body = dict(response.body)
        answer.steps.append(
            {"step": number, "service": step.service, "replica_id": forwarded.replica_id, "usage": usage}
        )
        messages = [{"role": "user", "content": _text_of(response.body)}]
    answer.body["usage"] = {
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens,
        "total_tokens": answer.prompt_tokens + answer.completion_tokens,
    }
    answer.body["stic"] = {"route": route.name, "steps": answer.steps}
    return answer
