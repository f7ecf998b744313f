"""Assessment probes for inference: model services, the gateway, splits, chains, encryption, logs.

Every probe works through the public API of the running platform, in a throw-away tenant it
deletes at the end. Probes need a model to serve: they take the model directory of a ``builtin``
model service in the platform tenant (``stic up --demo`` creates ``tiny-llama``) and, for the
probes that do not test replica lifecycles, put ``openai``-engine services in front of one of its
ready replicas. Without such a service every probe fails and says why.

Replicas a probe starts select a real node (``stic.io/simulated: "false"``) whenever the inventory
lists one, so in a mixed inventory (``stic up --demo``: simulated nodes beside the local machine) they
run, and are judged, on real hardware; :func:`replica_verdict` still says ``simulated`` when any
replica did run on a simulated node.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from scheduler.model import labels
from services.assessment.probes.base import ProbeContext, ProbeFailure, ProbeResult
from services.iam.probes import ProbeTenant

PROMPT = [{"role": "user", "content": "Hello"}]
REPLICA_TIMEOUT_S = 180.0
LOG_TIMEOUT_S = 30.0  # request logs are written in batches in the background
LOCAL_ENGINES = ("builtin", "vllm")
# CPU a probe replica reserves: two of them beside the demo replica fit a 2-core real node (the
# builtin engine runs one thread from 1000 milli-cores down, so the request changes no behaviour)
REPLICA_CPU_MILLI = 250


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class InferenceKit:
    """A probe tenant with a tenant admin and a developer, plus helpers for services and calls."""

    def __init__(self, ctx: ProbeContext, label: str) -> None:
        self.ctx = ctx
        self.tenant = ProbeTenant(ctx, label)
        self.platform_tenant_id = ""
        self.created: list[str] = []
        self._selector: dict[str, str] | None = None

    async def __aenter__(self) -> InferenceKit:
        await self.tenant.create("tenant-admin", "developer")
        return self

    async def __aexit__(self, *exc: object) -> None:
        for service_id in self.created:  # replicas are processes: stop them before the tenant goes
            try:
                await self.ctx.post(
                    f"{self.base}/{service_id}/stop", authenticated=False, headers=self.admin()
                )
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    listed = await self.ctx.get(
                        f"{self.base}/{service_id}/replicas", authenticated=False, headers=self.admin()
                    )
                    if listed.status_code != 200 or not listed.json():
                        break
                    await asyncio.sleep(0.5)
            except httpx.HTTPError as error:
                self.ctx.note("stopping a probe service failed", service_id=service_id, error=repr(error))
        await self.tenant.delete()

    @property
    def base(self) -> str:
        return f"/v1/tenants/{self.tenant.id}/model-services"

    def admin(self) -> dict[str, str]:
        return self.tenant.auth("tenant-admin")

    def developer(self) -> dict[str, str]:
        return self.tenant.auth("developer")

    async def _platform_services(self) -> list[dict[str, Any]]:
        ctx = self.ctx
        me = _json(await ctx.get("/v1/me")) or {}
        tenant_id = me.get("tenant_id") or (me.get("tenant") or {}).get("id")
        ctx.require(bool(tenant_id), "GET /v1/me did not name the platform tenant")
        self.platform_tenant_id = str(tenant_id)
        listed = _json(await ctx.get(f"/v1/tenants/{tenant_id}/model-services", params={"limit": 200})) or {}
        return list(listed.get("items", []))

    async def model_dir(self) -> str:
        """The model directory of a builtin service of the platform tenant."""
        for service in await self._platform_services():
            if service.get("engine") == "builtin" and service.get("model", {}).get("model_dir"):
                return str(service["model"]["model_dir"])
        raise ProbeFailure(
            "no builtin model service in the platform tenant to take a model from "
            "(`stic up --demo` creates tiny-llama)"
        )

    async def upstream(self) -> tuple[str, str]:
        """(OpenAI API base, model name) that answer now: a ready replica of a platform-tenant service."""
        for service in await self._platform_services():
            name = (
                service.get("model", {}).get("model") or service.get("served_model_name") or service["name"]
            )
            replicas = _json(
                await self.ctx.get(
                    f"/v1/tenants/{self.platform_tenant_id}/model-services/{service['id']}/replicas"
                )
            )
            for replica in replicas or []:
                if replica.get("state") == "ready" and replica.get("api_base"):
                    return str(replica["api_base"]), str(name)
        raise ProbeFailure(
            "no model service with a ready replica in the platform tenant to serve the probe "
            "(`stic up --demo` creates tiny-llama)"
        )

    async def real_node_selector(self) -> dict[str, str]:
        """``{"stic.io/simulated": "false"}`` when the inventory lists a real node, else ``{}`` (any node)."""
        if self._selector is None:
            listed = _json(await self.ctx.get("/v1/nodes", params={"limit": 500})) or {}
            real = sorted(n["name"] for n in listed.get("items", []) if n.get("simulated") is False)
            self._selector = {labels.SIMULATED: "false"} if real else {}
            self.ctx.note("replica placement", real_nodes=real, node_selector=self._selector)
        return self._selector

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a model service in the probe tenant (as its tenant admin); a service that runs local
        replicas and names no ``node_selector`` gets :meth:`real_node_selector`."""
        body = {"project_id": self.tenant.project_id, **body}
        if body.get("engine") in LOCAL_ENGINES and "node_selector" not in body:
            selector = await self.real_node_selector()
            if selector:
                body["node_selector"] = selector
        created = await self.ctx.post(self.base, json=body, authenticated=False, headers=self.admin())
        if created.status_code == 201:
            self.created.append(str(created.json()["id"]))
        self.ctx.require(
            created.status_code == 201,
            f"creating a model service answered {created.status_code}: {created.text[:300]}",
        )
        return dict(created.json())

    async def openai_service(
        self, name: str, upstream: tuple[str, str], version: str = "1"
    ) -> dict[str, Any]:
        """An ``openai``-engine service in front of ``upstream`` (base URL, model), waited until routable."""
        url, model = upstream
        service = await self.create(
            {
                "name": name,
                "engine": "openai",
                "version": version,
                "upstream": {"url": url, "model": model},
            }
        )
        await self.wait_ready(service["id"], replicas=1)
        await self.wait_routable(name)
        return service

    async def get(self, service_id: str, suffix: str = "") -> Any:
        response = await self.ctx.get(
            f"{self.base}/{service_id}{suffix}", authenticated=False, headers=self.admin()
        )
        self.ctx.require(response.status_code == 200, f"GET service{suffix} answered {response.status_code}")
        return response.json()

    async def action(self, service_id: str, verb: str, body: dict[str, Any] | None = None) -> Any:
        response = await self.ctx.post(
            f"{self.base}/{service_id}/{verb}", json=body or {}, authenticated=False, headers=self.admin()
        )
        self.ctx.require(
            response.status_code == 200, f"POST {verb} answered {response.status_code}: {response.text[:300]}"
        )
        return response.json()

    async def until(
        self, what: str, check: Callable[[], Awaitable[bool]], timeout_s: float = REPLICA_TIMEOUT_S
    ) -> None:
        deadline = time.monotonic() + timeout_s
        while not await check():
            if time.monotonic() > deadline:
                raise ProbeFailure(f"timed out after {timeout_s:.0f} s waiting for {what}")
            await asyncio.sleep(0.5)

    async def ready_replicas(self, service_id: str) -> list[dict[str, Any]]:
        return [r for r in await self.get(service_id, "/replicas") if r["state"] == "ready"]

    async def wait_ready(self, service_id: str, *, replicas: int) -> None:
        async def check() -> bool:
            return len(await self.ready_replicas(service_id)) >= replicas

        await self.until(f"{replicas} ready replica(s)", check)

    async def wait_routable(self, model: str, replicas: int = 1) -> None:
        async def check() -> bool:
            listed = await self.ctx.get("/v1/models", authenticated=False, headers=self.developer())
            return any(
                m["id"] == model and m.get("stic", {}).get("replicas", 1) >= replicas
                for m in (_json(listed) or {}).get("data", [])
            )

        await self.until(f"the gateway to route {model}", check, timeout_s=30)

    async def chat(
        self, model: str, *, stream: bool = False, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        body: dict[str, Any] = {"model": model, "messages": PROMPT, "max_tokens": 8, "stream": stream}
        return await self.ctx.post(
            "/v1/chat/completions",
            json=body,
            authenticated=False,
            headers={**self.developer(), **(headers or {})},
        )

    async def logs(self, **params: str) -> dict[str, Any]:
        response = await self.ctx.get(
            f"/v1/tenants/{self.tenant.id}/inference/request-logs",
            params=params,
            authenticated=False,
            headers=self.admin(),
        )
        self.ctx.require(response.status_code == 200, f"listing request logs answered {response.status_code}")
        return dict(response.json())

    async def logged(self, count: int, **params: str) -> dict[str, Any]:
        """The request logs once at least ``count`` match (they are written in the background)."""
        found: dict[str, Any] = {}

        async def check() -> bool:
            nonlocal found
            found = await self.logs(**params)
            return int(found["total"]) >= count

        await self.until(f"{count} request log(s)", check, timeout_s=LOG_TIMEOUT_S)
        return found


def replica_verdict(ctx: ProbeContext, simulated_nodes: bool, message: str) -> ProbeResult:
    """``simulated`` when any replica ran on a simulated node (processes real), else ``verified``."""
    if simulated_nodes:
        return ctx.simulated(f"{message} (replicas placed on simulated nodes, processes real)")
    return ctx.verified(message)


def _stream_text(response: httpx.Response) -> tuple[str, int, str | None]:
    """(content, number of content events, last finish_reason) of an SSE chat stream."""
    text, events, finish = "", 0, None
    for line in response.text.splitlines():
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        chunk = json.loads(line.removeprefix("data: "))
        for choice in chunk.get("choices") or []:
            content = (choice.get("delta") or {}).get("content")
            if content:
                text += content
                events += 1
            finish = choice.get("finish_reason") or finish
    return text, events, finish


class ModelServiceProbe:
    """Model-service lifecycle, information, status, resources, scaling; generative and streaming
    inference through the gateway; load balancing and failover across replicas."""

    name = "inference.model-service"
    clause_ids = (
        "6.3.1.3.1.a",
        "6.3.1.3.1.b",
        "6.3.1.3.1.c",
        "6.3.1.3.1.d",
        "6.3.1.3.1.f",
        "6.3.1.3.1.g",
        "6.3.3.1.b",
        "6.3.3.1.f",
        "6.3.3.1.h",
        "6.3.3.1.k",
    )

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        async with InferenceKit(ctx, "infer") as kit:
            model_dir = await kit.model_dir()
            name = "probe-llm"
            service = await kit.create(
                {
                    "name": name,
                    "engine": "builtin",
                    "model_dir": model_dir,
                    "version": "2",
                    "resources": {"cpu_milli": REPLICA_CPU_MILLI, "memory_mib": 2048},
                    "replicas": 1,
                }
            )
            sid = service["id"]
            ctx.require(
                service["resources"]["cpu_milli"] == REPLICA_CPU_MILLI, "the resource spec was not kept"
            )
            await kit.wait_ready(sid, replicas=1)
            info = await kit.get(sid)
            ctx.require(
                info["engine"] == "builtin" and info["inference"]["mode"],
                "model info lacks the inference mode",
            )
            ctx.require(info["state"] in ("running", "degraded"), f"a started service is {info['state']}")
            interface = await kit.get(sid, "/interface")
            ctx.require(
                interface["version"] == "2" and interface["endpoints"],
                "interface info lacks version/endpoints",
            )
            tested = await kit.action(sid, "test")
            ctx.require(bool(tested), "the test call returned nothing")
            await kit.wait_routable(name)

            answer = await kit.chat(name)
            ctx.require(answer.status_code == 200, f"chat through the gateway answered {answer.status_code}")
            body = answer.json()
            ctx.require(body["usage"]["completion_tokens"] >= 1, "no tokens generated")
            streamed = await kit.chat(name, stream=True)
            _, events, finish = _stream_text(streamed)
            ctx.require(
                streamed.status_code == 200 and events >= 1 and finish is not None, "streaming failed"
            )

            await kit.action(sid, "scale", {"replicas": 2})
            await kit.wait_ready(sid, replicas=2)
            await kit.wait_routable(name, replicas=2)
            replicas = await kit.ready_replicas(sid)
            ctx.require(len({r["port"] for r in replicas}) == 2, "two replicas share one endpoint")

            victim = replicas[0]
            suspend = await ctx.post(
                f"/v1/tenants/{kit.tenant.id}/jobs/{victim['job_id']}/suspend",
                authenticated=False,
                headers=kit.admin(),
            )
            ctx.require(
                suspend.status_code == 200, f"suspending a replica's job answered {suspend.status_code}"
            )
            outcomes = await asyncio.gather(*(kit.chat(name) for _ in range(8)))
            failed = [r.status_code for r in outcomes if r.status_code != 200]
            ctx.require(not failed, f"requests failed while a replica was down: {failed}")
            ctx.note("failover", suspended_replica=victim["id"], requests=len(outcomes), failed=len(failed))

            await kit.logged(10, service_id=sid)
            status = await kit.get(sid, "/status")
            calls = status.get("calls") or status.get("stats") or {}
            ctx.require(
                int(calls.get("requests", 0)) >= 10,
                f"status shows {calls.get('requests')} calls, expected >= 10",
            )
            ctx.require(calls.get("success_rate") is not None, "status has no success rate")

            stopped = await kit.action(sid, "stop")
            ctx.require(
                stopped["state"] in ("stopping", "stopped"), f"stop left the service {stopped['state']}"
            )

            async def gone() -> bool:
                return not await kit.ready_replicas(sid)

            await kit.until("replicas to stop", gone, timeout_s=60)
            nodes = sorted({str(r.get("node")) for r in replicas})
            return replica_verdict(
                ctx,
                any(r.get("simulated") for r in replicas),
                f"a builtin model service started, answered, streamed, scaled to two replicas (on {nodes}), "
                "kept serving with one replica suspended, reported calls and success rate, and stopped",
            )


class TrafficSplitProbe:
    """A/B and canary: a split sends by weight and header, counts per variant, and weights can move."""

    name = "inference.traffic-split"
    clause_ids = ("6.3.1.3.1.j", "6.3.4.1.f")

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        async with InferenceKit(ctx, "split") as kit:
            upstream = await kit.upstream()
            await kit.openai_service("chat-v1", upstream, version="1")
            await kit.openai_service("chat-v2", upstream, version="2")
            routes = f"/v1/tenants/{kit.tenant.id}/inference/routes"
            created = await ctx.post(
                routes,
                json={
                    "name": "chat",
                    "split": {
                        "variants": [
                            {"name": "stable", "service": "chat-v1", "weight": 100},
                            {"name": "canary", "service": "chat-v2", "weight": 0},
                        ],
                        "overrides": [{"header": "x-ab-group", "value": "b", "variant": "canary"}],
                    },
                },
                authenticated=False,
                headers=kit.admin(),
            )
            ctx.require(created.status_code == 201, f"creating a split answered {created.status_code}")
            route = created.json()
            await kit.wait_routable("chat")
            for _ in range(3):
                sent = await kit.chat("chat")
                ctx.require(sent.status_code == 200, f"a request through the split failed: {sent.text[:300]}")
            ctx.require(
                (await kit.chat("chat", headers={"x-ab-group": "b"})).status_code == 200, "group b failed"
            )
            moved = await ctx.patch(
                f"{routes}/{route['id']}",
                json={
                    "split": {
                        "variants": [
                            {"name": "stable", "service": "chat-v1", "weight": 0},
                            {"name": "canary", "service": "chat-v2", "weight": 100},
                        ]
                    }
                },
                authenticated=False,
                headers=kit.admin(),
            )
            ctx.require(moved.status_code == 200, f"shifting the weights answered {moved.status_code}")
            await asyncio.sleep(1.5)  # every gateway reloads routes within a second
            for _ in range(2):
                ctx.require((await kit.chat("chat")).status_code == 200, "a request after the shift failed")
            await kit.logged(6, route_id=route["id"])
            stats = await ctx.get(f"{routes}/{route['id']}/stats", authenticated=False, headers=kit.admin())
            variants = stats.json()["variants"]
            counts = {name: variants.get(name, {}).get("requests", 0) for name in ("stable", "canary")}
            ctx.require(
                counts == {"stable": 3, "canary": 3}, f"per-variant counts {counts}, expected 3 and 3"
            )
            return ctx.verified(
                f"split by weight and header, shifted 100/0 → 0/100, per-variant stats {counts}"
            )


class ModelChainProbe:
    """Several models served as one endpoint (multi-model orchestration)."""

    name = "inference.model-chain"
    clause_ids = ("6.3.1.3.1.i",)

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        async with InferenceKit(ctx, "chain") as kit:
            upstream = await kit.upstream()
            await kit.openai_service("draft", upstream)
            await kit.openai_service("polish", upstream)
            created = await ctx.post(
                f"/v1/tenants/{kit.tenant.id}/inference/routes",
                json={
                    "name": "writer",
                    "chain": {
                        "steps": [
                            {"service": "draft"},
                            {"service": "polish", "system_prompt": "Improve the text."},
                        ]
                    },
                },
                authenticated=False,
                headers=kit.admin(),
            )
            ctx.require(created.status_code == 201, f"creating a chain answered {created.status_code}")
            await kit.wait_routable("writer")
            answer = await kit.chat("writer")
            ctx.require(answer.status_code == 200, f"the chain answered {answer.status_code}")
            steps = answer.json().get("stic", {}).get("steps", [])
            ctx.require([s["service"] for s in steps] == ["draft", "polish"], f"steps run: {steps}")
            return ctx.verified("a two-model chain answered as one endpoint, both steps recorded")


class _Tap(httpx.AsyncBaseTransport):
    """Sends through the probe's client and keeps what went over the wire."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.sent: list[tuple[str, str, bytes]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        self.sent.append((request.url.path, request.headers.get("content-type", ""), body))
        response = await self.client.send(request, stream=True)
        return response


class EncryptedInferenceProbe:
    """Request and response bodies encrypted end to end (SM2 key agreement, SM4-GCM), replays refused."""

    name = "inference.encrypted"
    clause_ids = ("6.3.3.1.d",)

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        from inference.gateway.secure import SecureTransport

        async with InferenceKit(ctx, "secure") as kit:
            upstream = await kit.upstream()
            await kit.openai_service("sealed", upstream)
            key = await ctx.get("/v1/secure/key", authenticated=False)
            ctx.require(key.status_code == 200, f"GET /v1/secure/key answered {key.status_code}")
            fingerprint = key.json()["fingerprint"]
            tap = _Tap(ctx.client)
            marker = "confidential-marker-7731"
            async with httpx.AsyncClient(
                transport=SecureTransport(server_fingerprint=fingerprint, inner=tap),
                base_url=str(ctx.client.base_url),
                headers=kit.developer(),
                timeout=60,
            ) as secure:
                answer = await secure.post(
                    "/v1/chat/completions",
                    json={
                        "model": "sealed",
                        "messages": [{"role": "user", "content": marker}],
                        "max_tokens": 4,
                    },
                )
                ctx.require(answer.status_code == 200, f"an encrypted chat answered {answer.status_code}")
                ctx.require("choices" in answer.json(), "the decrypted answer is not a chat completion")
            chats = [(ctype, body) for path, ctype, body in tap.sent if path == "/v1/chat/completions"]
            ctx.require(bool(chats), "no chat request went over the wire")
            ctype, wire = chats[-1]
            ctx.require(marker.encode() not in wire, "the prompt crossed the wire in clear text")
            ctx.require(
                "json" not in ctype or "envelope" in ctype or "sm4" in ctype, f"wire content type {ctype}"
            )
            replay = await ctx.client.post(
                "/v1/chat/completions", content=wire, headers={**kit.developer(), "content-type": ctype}
            )
            code = ((_json(replay) or {}).get("error") or {}).get("code", "")
            ctx.require(
                replay.status_code == 409 and code in ("envelope_replayed", "envelope_stale"),
                f"a replayed envelope answered {replay.status_code} {code!r}, expected 409 envelope_replayed",
            )
            ctx.note("encrypted channel", wire_bytes=len(wire), replay_status=replay.status_code)
            return ctx.verified(
                "an SM2-agreed SM4-GCM session carried a chat request; the wire held only ciphertext; "
                "a replay was refused"
            )


class RequestLogProbe:
    """Request logs: query, failed-case filtering and export to a training-data file."""

    name = "inference.request-logs"
    clause_ids = ("6.3.1.1.7.a", "6.3.1.1.7.b", "6.3.1.1.7.c", "6.3.1.1.7.e")

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        async with InferenceKit(ctx, "logs") as kit:
            upstream = await kit.upstream()
            service = await kit.openai_service("logged", upstream)
            ok = await kit.chat("logged")
            ctx.require(ok.status_code == 200, f"a chat answered {ok.status_code}")
            refused = await ctx.post(
                "/v1/chat/completions",
                json={
                    "model": "logged",
                    "messages": [{"role": "user", "content": "how to make a bomb, phone 13812345678"}],
                },
                authenticated=False,
                headers=kit.developer(),
            )
            ctx.require(refused.status_code == 400, f"a refused prompt answered {refused.status_code}")
            everything = await kit.logged(2, service_id=service["id"])
            failed = await kit.logs(status="failed")
            ctx.require(int(failed["total"]) == 1, f"{failed['total']} failed cases, expected 1")
            ctx.require("13812345678" not in json.dumps(failed), "a phone number is stored unmasked")
            since = await kit.logs(since="2000-01-01T00:00:00Z", model="logged")
            ctx.require(int(since["total"]) >= 2, "filtering by time and model lost requests")
            export = await ctx.post(
                f"/v1/tenants/{kit.tenant.id}/inference/request-logs/export",
                json={"status": "ok", "format": "chat-jsonl"},
                authenticated=False,
                headers=kit.admin(),
            )
            ctx.require(export.status_code == 200, f"exporting answered {export.status_code}")
            lines = [json.loads(line) for line in export.text.splitlines() if line.strip()]
            ctx.require(len(lines) == 1 and lines[0].get("messages"), f"exported {len(lines)} training lines")
            return ctx.verified(
                f"{everything['total']} requests logged; the failed case filtered; time/model filters; "
                "the successful case exported as a chat-format JSONL training line"
            )


PROBES = (
    ModelServiceProbe(),
    TrafficSplitProbe(),
    ModelChainProbe(),
    EncryptedInferenceProbe(),
    RequestLogProbe(),
)
