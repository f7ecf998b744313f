"""Building blocks of the scheduler probes: throw-away jobs, simulated nodes and switch domains.

Everything goes through the public HTTP API of a running deployment, and everything a probe makes
is removed by the matching ``delete_all`` (best effort: recorded as a note, never raises).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from services.assessment.probes.base import ProbeContext, ProbeResult
from services.iam.probes import ProbeTenant

SLEEP = "import time; print('up', flush=True); time.sleep(30)"
WAIT_S = 15.0
CORDON_WAIT_S = 5.0  # a node is cordoned within a monitor tick or two of its third failure
POLL_S = 0.1

Job = dict[str, Any]


def body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {}


def group(name: str, code: str, *, replicas: int = 1, accelerators: dict[str, Any] | None = None) -> dict:
    group: dict[str, Any] = {
        "name": name,
        "replicas": replicas,
        "cpu_milli": 100,
        "memory_mib": 64,
        "command": ["python3", "-c", code],
    }
    if accelerators is not None:
        group["accelerators"] = accelerators
    return group


class ProbeJobs:
    """Jobs of one probe tenant, submitted as its developer and always deleted at the end."""

    def __init__(self, ctx: ProbeContext, tenant: ProbeTenant) -> None:
        self.ctx = ctx
        self.tenant = tenant
        self.ids: list[str] = []

    @property
    def base(self) -> str:
        """``/v1/tenants/{id}/jobs``."""
        return f"/v1/tenants/{self.tenant.id}/jobs"

    async def submit(self, spec: dict[str, Any], *, expect: int = 201) -> Job:
        """Submit ``spec`` (name and project filled in); ProbeFailure unless answered ``expect``."""
        payload = {"name": f"probe-{uuid.uuid4().hex[:8]}", "project_id": self.tenant.project_id, **spec}
        response = await self.ctx.post(
            self.base, json=payload, authenticated=False, headers=self.tenant.auth("developer")
        )
        self.ctx.require(
            response.status_code == expect,
            f"submitting a {payload.get('type', 'batch')} job answered {response.status_code}, "
            f"expected {expect}: {response.text[:300]}",
        )
        job: Job = body(response)
        if response.status_code == 201:
            self.ids.append(job["id"])
        return job

    async def action(self, job_id: str, verb: str) -> Job:
        """POST ``start``/``suspend``/``resume`` to a job; ProbeFailure unless 200."""
        response = await self.ctx.post(
            f"{self.base}/{job_id}/{verb}", authenticated=False, headers=self.tenant.auth("developer")
        )
        self.ctx.require(response.status_code == 200, f"{verb} answered {response.status_code}")
        job: Job = body(response)
        return job

    async def get(self, job_id: str, suffix: str = "") -> httpx.Response:
        """GET the job (or ``suffix`` below it) as the developer."""
        return await self.ctx.get(
            f"{self.base}/{job_id}{suffix}", authenticated=False, headers=self.tenant.auth("developer")
        )

    async def wait(
        self, job_id: str, until: Callable[[Job], bool], what: str, *, limit_s: float = WAIT_S
    ) -> Job:
        """Poll the job until ``until(job)``; ProbeFailure naming ``what`` and the last state otherwise."""
        deadline = time.monotonic() + limit_s
        job: Job = {}
        while time.monotonic() < deadline:
            response = await self.get(job_id)
            self.ctx.require(
                response.status_code == 200, f"reading job {job_id} answered {response.status_code}"
            )
            job = body(response)
            if until(job):
                return job
            if job.get("state") in ("failed", "unschedulable"):
                break  # no probe waits for these: report at once
            await asyncio.sleep(POLL_S)
        self.ctx.require(
            False,
            f"job never {what} within {limit_s:.0f} s: "
            f"state {job.get('state')!r}, reasons {job.get('reasons')}",
        )
        return job

    async def events(self, job_id: str) -> list[dict[str, Any]]:
        """The job's events."""
        response = await self.get(job_id, "/events?limit=500")
        self.ctx.require(response.status_code == 200, f"reading events answered {response.status_code}")
        items: list[dict[str, Any]] = body(response).get("items", [])
        return items

    async def logs(self, job_id: str, task: str, attempt: int | None = None) -> str:
        """The content of a task's log (latest attempt unless ``attempt``)."""
        query = "" if attempt is None else f"?attempt={attempt}"
        response = await self.get(job_id, f"/tasks/{task}/logs{query}")
        self.ctx.require(
            response.status_code == 200, f"reading logs of {task} answered {response.status_code}"
        )
        content: str = body(response).get("content", "")
        return content

    async def delete(self, job_id: str) -> None:
        """Delete one job; ProbeFailure unless 204."""
        response = await self.ctx.delete(
            f"{self.base}/{job_id}", authenticated=False, headers=self.tenant.auth("developer")
        )
        self.ctx.require(response.status_code == 204, f"deleting a job answered {response.status_code}")
        self.ids.remove(job_id)

    async def delete_all(self) -> None:
        """Delete every job still known, then wait (up to 10 s) until the loop has stopped their tasks
        and released their quota, so the tenant can go. Best effort: recorded, never raises."""
        for job_id in list(self.ids):
            try:
                await self.ctx.delete(f"{self.base}/{job_id}")
            except httpx.HTTPError as exc:
                self.ctx.note("clean-up failed", job=job_id, error=repr(exc))
        self.ids.clear()
        if not self.tenant.project_id:
            return
        quota = f"/v1/tenants/{self.tenant.id}/projects/{self.tenant.project_id}/quota"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                response = await self.ctx.get(quota)
            except httpx.HTTPError as exc:
                self.ctx.note("clean-up failed", error=repr(exc))
                return
            if response.status_code != 200 or not body(response).get("used"):
                return
            await asyncio.sleep(POLL_S)
        self.ctx.note("jobs still held quota after deletion", tenant=self.tenant.id)


class ProbeNodes:
    """Simulated nodes registered for one probe, each with a product named only for it."""

    def __init__(self, ctx: ProbeContext) -> None:
        self.ctx = ctx
        self.names: list[str] = []
        self.tag = uuid.uuid4().hex[:8]

    async def add(
        self,
        label: str,
        *,
        vendor: str,
        count: int,
        model: str | None = None,
        leaf: str = "local-leaf",
        links: list[dict[str, Any]] | None = None,
    ) -> tuple[str, str]:
        """Register a simulated node with ``count`` devices of ``model`` (default: a product named for
        this node only) under switch ``leaf``, with intra-node ``links``; returns (node, product)."""
        name = f"probe-{label}-{self.tag}"
        model = model or name
        node = {
            "name": name,
            "cpu_milli": 2000,
            "memory_mib": 4096,
            "leaf": leaf,
            "links": links or [],
            "simulated": True,
            "labels": {"stic.probe": "true"},
            "accelerators": {
                "vendor": vendor,
                "model": model,
                "memory_mib": 16384,
                "compute_units": 100,
                "count": count,
            },
        }
        response = await self.ctx.post("/v1/nodes", json=node)
        if response.status_code == 403:
            self.ctx.require(False, "the probe key may not register simulated nodes (needs a platform admin)")
        self.ctx.require(
            response.status_code == 201, f"registering a simulated node answered {response.status_code}"
        )
        self.ctx.require(body(response).get("simulated") is True, f"node {name} does not say it is simulated")
        self.names.append(name)
        return name, model

    async def delete_all(self) -> None:
        """Remove the nodes once their tasks are gone (best effort: recorded, never raises)."""
        deadline = time.monotonic() + 10
        pending = list(self.names)
        while pending and time.monotonic() < deadline:
            for name in list(pending):
                try:
                    response = await self.ctx.delete(f"/v1/nodes/{name}")
                except httpx.HTTPError as exc:
                    self.ctx.note("clean-up failed", node=name, error=repr(exc))
                    pending.remove(name)
                    continue
                if response.status_code in (204, 404):
                    pending.remove(name)
            if pending:
                await asyncio.sleep(POLL_S)
        if pending:
            self.ctx.note("simulated nodes left behind", nodes=pending)
        self.names.clear()


def running(job: Job) -> bool:
    return job.get("state") == "running" and all(t["state"] == "running" for t in job.get("tasks", []))


def state(*states: str) -> Callable[[Job], bool]:
    return lambda job: job.get("state") in states


def outcome(ctx: ProbeContext, simulated: bool, message: str) -> ProbeResult:
    """``simulated`` when any task ran on a simulated node, else ``verified``."""
    if simulated:
        return ctx.simulated(message + " (some tasks were placed on simulated nodes)")
    return ctx.verified(message)


class ProbeDomains:
    """Simulated switch domains (spine, leaves) registered for one probe, removed at the end."""

    def __init__(self, ctx: ProbeContext, tag: str) -> None:
        self.ctx = ctx
        self.tag = tag
        self.names: list[str] = []

    async def add(self, label: str, *, tier: str, parent: str) -> str:
        """Create domain ``probe-{label}-{tag}`` of ``tier`` under ``parent``; returns its name."""
        name = f"probe-{label}-{self.tag}"
        body_in = {"tier": tier, "parent": parent, "simulated": True}
        response = await self.ctx.put(f"/v1/topology/domains/{name}", json=body_in)
        self.ctx.require(
            response.status_code in (200, 201),
            f"creating {tier} domain {name} answered {response.status_code}",
        )
        self.names.append(name)
        return name

    async def delete_all(self) -> None:
        """Remove the domains, children first (after the probe's nodes are gone)."""
        for name in reversed(self.names):
            try:
                response = await self.ctx.delete(f"/v1/topology/domains/{name}")
            except httpx.HTTPError as exc:
                self.ctx.note("clean-up failed", domain=name, error=repr(exc))
                continue
            if response.status_code not in (204, 404):
                self.ctx.note("domain left behind", domain=name, status=response.status_code)
        self.names.clear()


def waiting_with(fragment: str) -> Callable[[Job], bool]:
    """Condition: the job waits (pending or queued) with a reason containing ``fragment``."""
    return lambda job: (
        job.get("state") in ("pending", "queued") and any(fragment in r for r in job.get("reasons", []))
    )


def live_tasks(job: Job) -> list[dict[str, Any]]:
    """The job's tasks that run now."""
    return [t for t in job.get("tasks", []) if t["state"] == "running"]


async def wait_until(
    ctx: ProbeContext, check: Callable[[], Any], what: str, *, limit_s: float = WAIT_S
) -> Any:
    """Poll the coroutine factory ``check`` until it returns something truthy; ProbeFailure otherwise."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(POLL_S)
    ctx.require(False, f"{what} did not happen within {limit_s:.0f} s")
    return None
