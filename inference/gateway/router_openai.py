"""The OpenAI API surface: ``/v1/chat/completions``, ``/v1/completions``, ``/v1/embeddings``, ``/v1/models``.

Thin: each route hands the request to :func:`inference.gateway.pipeline.serve`. Bodies are read
raw (not as FastAPI models) so that validation errors come back in the OpenAI error shape and
unknown engine parameters pass through; the documented schemas are given to OpenAPI explicitly.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from inference.gateway.errors import OpenAIError, model_not_found
from inference.gateway.pipeline import GatewayRuntime, authenticate, may_use, serve
from inference.gateway.requests import ChatRequest, CompletionRequest, EmbeddingRequest, Operation
from inference.gateway.table import RouteEntry, ServiceEntry

router = APIRouter(prefix="/v1", tags=["OpenAI-compatible inference"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text}
    for code, text in {
        400: "invalid request (OpenAI error shape; `content_filter` when the prompt is refused)",
        401: "missing or invalid API key",
        403: "the key may not use inference",
        404: "no such model for this tenant",
        429: "rate limit (RPM, TPM or concurrency) with Retry-After",
        502: "no replica answered",
        503: "no healthy replica",
    }.items()
}


def _body_doc(model: type) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")  # type: ignore[attr-defined]
    schema.pop("$defs", None)
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@router.post(
    "/chat/completions",
    summary="Chat completion (streaming with `stream: true`)",
    responses=_ERRORS,
    openapi_extra=_body_doc(ChatRequest),
)
async def chat_completions(request: Request) -> Response:
    return await serve(request, Operation.CHAT)


@router.post(
    "/completions", summary="Text completion", responses=_ERRORS, openapi_extra=_body_doc(CompletionRequest)
)
async def completions(request: Request) -> Response:
    return await serve(request, Operation.COMPLETIONS)


@router.post(
    "/embeddings", summary="Embeddings", responses=_ERRORS, openapi_extra=_body_doc(EmbeddingRequest)
)
async def embeddings(request: Request) -> Response:
    return await serve(request, Operation.EMBEDDINGS)


def _service_card(entry: ServiceEntry) -> dict[str, Any]:
    target = entry.target
    return {
        "id": target.name,
        "object": "model",
        "created": 0,
        "owned_by": target.tenant_id,
        "stic": {
            "kind": "service",
            "service_id": target.service_id,
            "engine": target.engine,
            "version": target.version,
            "state": target.state,
            "replicas": len(target.replicas),
            "simulated": target.simulated,
        },
    }


def _route_card(route: RouteEntry) -> dict[str, Any]:
    detail: dict[str, Any] = {"kind": "split" if route.split is not None else "chain", "route_id": route.id}
    if route.split is not None:
        detail["variants"] = [v.model_dump() for v in route.split.variants]
    elif route.chain is not None:
        detail["steps"] = [s.service for s in route.chain.steps]
    return {"id": route.name, "object": "model", "created": 0, "owned_by": route.tenant_id, "stic": detail}


async def _cards(request: Request) -> list[dict[str, Any]]:
    runtime: GatewayRuntime = request.app.state.gateway
    principal = await authenticate(request, runtime)
    routes = runtime.table.routes_of(principal.tenant_id)
    shadowed = {r.name for r in routes}
    services = [
        e
        for e in runtime.table.services_of(principal.tenant_id)
        if e.target.name not in shadowed and may_use(principal, e)
    ]
    return [_service_card(e) for e in services] + [_route_card(r) for r in routes]


@router.get(
    "/models", summary="Models served to the caller's tenant (services and routes)", responses=_ERRORS
)
async def list_models(request: Request) -> Response:
    try:
        cards = await _cards(request)
    except OpenAIError as exc:
        return exc.response()
    return JSONResponse({"object": "list", "data": cards})


@router.get("/models/{model:path}", summary="One model served to the caller's tenant", responses=_ERRORS)
async def get_model(model: str, request: Request) -> Response:
    try:
        for card in await _cards(request):
            if card["id"] == model:
                return JSONResponse(card)
        raise model_not_found(model)
    except OpenAIError as exc:
        return exc.response()
