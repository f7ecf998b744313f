"""Typed client of the audit service, with client-side proof verification."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from security.auditlog import merkle
from security.auditlog.checkpoint import NoteVerifier, open_checkpoint
from services.audit import schemas


class AuditProofError(RuntimeError):
    """A proof served by the audit service does not verify."""


class AuditClient:
    """Calls ``/v1/audit/...`` through ``http`` (a base-URL'd, authenticated httpx client)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def _json(self, response: httpx.Response) -> Any:
        response.raise_for_status()
        return response.json()

    async def record_event(self, event: schemas.EventIn) -> schemas.Appended:
        """Record an event; returns its index once durable."""
        body = await self._json(await self._http.post("/v1/audit/events", json=event.model_dump(mode="json")))
        return schemas.Appended.model_validate(body)

    async def record_tool_call(self, call: schemas.ToolCallIn) -> schemas.Appended:
        """Record a tool / plug-in call with its risk decision."""
        body = await self._json(
            await self._http.post("/v1/audit/tool-calls", json=call.model_dump(mode="json"))
        )
        return schemas.Appended.model_validate(body)

    async def entry(self, index: int, *, tree_size: int | None = None) -> schemas.InclusionOut:
        """Entry ``index`` with its inclusion proof."""
        params = {"tree_size": tree_size} if tree_size else {}
        body = await self._json(await self._http.get(f"/v1/audit/entries/{index}", params=params))
        return schemas.InclusionOut.model_validate(body)

    async def latest_checkpoint(self) -> schemas.CheckpointOut:
        """The newest signed checkpoint."""
        return schemas.CheckpointOut.model_validate(
            await self._json(await self._http.get("/v1/audit/checkpoints/latest"))
        )

    async def consistency(self, first: int, second: int) -> schemas.ConsistencyOut:
        """Consistency proof between two sizes."""
        body = await self._json(
            await self._http.get("/v1/audit/consistency", params={"first": first, "second": second})
        )
        return schemas.ConsistencyOut.model_validate(body)

    async def verified_entry(self, index: int, verifier: NoteVerifier) -> schemas.InclusionOut:
        """Fetch entry ``index`` and check, locally, the checkpoint signature, that the leaf hash is
        ``SM3(0x00 ‖ entry)`` and the inclusion proof; raises :class:`AuditProofError` otherwise."""
        served = await self.entry(index)
        checkpoint = open_checkpoint(served.checkpoint.note, verifier, origin=served.checkpoint.origin)
        leaf = merkle.leaf_hash(base64.b64decode(served.entry.entry_b64))
        if base64.b64encode(leaf).decode() != served.entry.leaf_hash:
            raise AuditProofError(f"entry {index}: leaf hash does not match the entry bytes")
        proof = [base64.b64decode(p) for p in served.proof]
        if not merkle.verify_inclusion(
            leaf=leaf, index=index, size=checkpoint.size, proof=proof, root=checkpoint.root
        ):
            raise AuditProofError(
                f"entry {index}: inclusion proof does not verify against checkpoint {checkpoint.size}"
            )
        return served
