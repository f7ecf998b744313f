"""Typed client of the content-safety service for one tenant (pydantic models in, models out)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

import httpx

from services.safety import schemas

Direction = Literal["input", "output"]


class SafetyClient:
    """Calls ``/v1/tenants/<tenant_id>/safety/...`` through ``http`` (base-URL'd and authenticated).

    Every method raises ``httpx.HTTPStatusError`` for an error answer; the platform's error body
    (``{"error", "message", "detail"}``) is on ``exc.response``.
    """

    def __init__(self, http: httpx.AsyncClient, tenant_id: str) -> None:
        self._http = http
        self._base = f"/v1/tenants/{tenant_id}/safety"

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._http.request(method, f"{self._base}{path}", **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    async def upload_pack(
        self, document: dict[str, Any], *, activate: bool = False
    ) -> schemas.PackVersionDetail:
        """Store a pack version (JSON); identical content already stored is returned as is."""
        body = json.dumps(document, ensure_ascii=False).encode()
        data = await self._call(
            "POST",
            "/packs",
            content=body,
            params={"activate": str(activate).lower()},
            headers={"Content-Type": "application/json"},
        )
        return schemas.PackVersionDetail.model_validate(data)

    async def upload_pack_yaml(self, text: str, *, activate: bool = False) -> schemas.PackVersionDetail:
        """Store a pack version written in YAML."""
        data = await self._call(
            "POST",
            "/packs",
            content=text.encode(),
            params={"activate": str(activate).lower()},
            headers={"Content-Type": "application/yaml"},
        )
        return schemas.PackVersionDetail.model_validate(data)

    async def list_packs(
        self, *, pack_id: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[schemas.PackVersionOut]:
        """One page of the tenant's pack versions, newest first."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if pack_id is not None:
            params["pack_id"] = pack_id
        data = await self._call("GET", "/packs", params=params)
        return [schemas.PackVersionOut.model_validate(item) for item in data["items"]]

    async def get_pack(self, pack_version_id: str) -> schemas.PackVersionDetail:
        """A version of the tenant's or a platform pack, with its document."""
        return schemas.PackVersionDetail.model_validate(await self._call("GET", f"/packs/{pack_version_id}"))

    async def active_pack(self) -> schemas.ActivePackOut:
        """The pack that applies to the tenant."""
        return schemas.ActivePackOut.model_validate(await self._call("GET", "/active-pack"))

    async def activate(self, pack_version_id: str) -> schemas.ActivePackOut:
        """Make a version the tenant's active pack (roll forward or back)."""
        data = await self._call("PUT", "/active-pack", json={"pack_version_id": pack_version_id})
        return schemas.ActivePackOut.model_validate(data)

    async def use_platform_default(self) -> None:
        """Drop the tenant's own activation."""
        await self._call("DELETE", "/active-pack")

    async def check(
        self, text: str, *, direction: Direction = "input", pack_version_id: str | None = None
    ) -> schemas.DecisionOut:
        """Check one text."""
        body: dict[str, Any] = {"text": text, "direction": direction}
        if pack_version_id is not None:
            body["pack_version_id"] = pack_version_id
        return schemas.DecisionOut.model_validate(await self._call("POST", "/check", json=body))

    async def check_stream(
        self, chunks: Sequence[str], *, direction: Direction = "output"
    ) -> schemas.StreamCheckOut:
        """Replay a streamed output through the sliding-window checker."""
        body = {"chunks": list(chunks), "direction": direction}
        return schemas.StreamCheckOut.model_validate(await self._call("POST", "/check/stream", json=body))

    async def evaluate(self, pack_version_id: str, labelled_jsonl: bytes) -> schemas.EvaluationOut:
        """Precision / recall / F1 of a version on a labelled JSON Lines body."""
        data = await self._call(
            "POST",
            f"/packs/{pack_version_id}/evaluate",
            content=labelled_jsonl,
            headers={"Content-Type": "application/x-ndjson"},
        )
        return schemas.EvaluationOut.model_validate(data)

    async def mask(self, record: Any, policy: schemas.MaskingPolicyIn | None = None) -> Any:
        """A de-identified copy of ``record``."""
        body = schemas.MaskIn(record=record, policy=policy or schemas.MaskingPolicyIn())
        return (await self._call("POST", "/mask", json=body.model_dump(mode="json", exclude_none=True)))[
            "record"
        ]

    async def reviews(
        self, *, state: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[schemas.ReviewItemOut]:
        """One page of the review queue, oldest first."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if state is not None:
            params["state"] = state
        data = await self._call("GET", "/reviews", params=params)
        return [schemas.ReviewItemOut.model_validate(item) for item in data["items"]]

    async def claim(self, item_id: str) -> schemas.ReviewItemOut:
        """Claim an item."""
        return schemas.ReviewItemOut.model_validate(await self._call("POST", f"/reviews/{item_id}/claim"))

    async def claim_next(self) -> schemas.ReviewItemOut | None:
        """Claim the oldest pending item, or ``None`` when the queue is empty."""
        data = await self._call("POST", "/reviews/claim-next")
        return schemas.ReviewItemOut.model_validate(data) if data is not None else None

    async def approve(self, item_id: str, note: str | None = None) -> schemas.ReviewItemOut:
        """Approve a claimed item."""
        data = await self._call("POST", f"/reviews/{item_id}/approve", json={"note": note})
        return schemas.ReviewItemOut.model_validate(data)

    async def reject(self, item_id: str, note: str) -> schemas.ReviewItemOut:
        """Reject a claimed item with a reason."""
        data = await self._call("POST", f"/reviews/{item_id}/reject", json={"note": note})
        return schemas.ReviewItemOut.model_validate(data)

    async def release(self, item_id: str) -> schemas.ReviewItemOut:
        """Give a claimed item back to the queue."""
        return schemas.ReviewItemOut.model_validate(await self._call("POST", f"/reviews/{item_id}/release"))
