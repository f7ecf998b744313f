"""Builders for the content-safety service tests (fixtures are in conftest.py)."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
from fastapi import FastAPI

from tests.conftest import client_for
from tests.services.builders import TenantFixture, ok, unique


class PackDoc:
    """Builds rule-pack documents: a small valid pack, then targeted changes."""

    def __init__(self, pack_id: str | None = None, version: str = "1.0.0") -> None:
        self.doc: dict[str, Any] = {
            "id": pack_id or unique("pk"),
            "version": version,
            "stream_window": 8,
            "categories": {
                "contraband": {
                    "action": "refuse",
                    "priority": 100,
                    "template": "refused: {category}",
                    "keywords": ["widget-x", "违禁物"],
                },
                "escalate": {"action": "review", "priority": 80, "keywords": ["escalate-me"]},
                "secrets": {"action": "mask", "priority": 60, "regexes": [r"\bsecret-[0-9]{4}\b"]},
            },
            "pii": {"mobile": {"action": "mask", "priority": 50, "category": "pii"}},
        }

    def with_(self, **fields: Any) -> PackDoc:
        """Set top-level fields."""
        self.doc.update(fields)
        return self

    def category(self, name: str, spec: dict[str, Any] | None) -> PackDoc:
        """Add, replace or (``None``) drop a category."""
        if spec is None:
            self.doc["categories"].pop(name, None)
        else:
            self.doc["categories"][name] = spec
        return self

    def build(self) -> dict[str, Any]:
        """A deep copy of the document."""
        return copy.deepcopy(self.doc)

    def json(self) -> bytes:
        """The document as JSON bytes."""
        return json.dumps(self.doc, ensure_ascii=False).encode()


@dataclass
class SafetyTenant:
    """A tenant with a client per role, the platform admin's client and the safety base path."""

    app: FastAPI
    tenant: TenantFixture
    admin: httpx.AsyncClient
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """The tenant id."""
        return self.tenant.id

    @property
    def base(self) -> str:
        """``/v1/tenants/<id>/safety``."""
        return f"/v1/tenants/{self.tenant.id}/safety"

    def as_(self, role: str) -> httpx.AsyncClient:
        """A client authenticated as the tenant's ``role`` user (``platform-admin``: the bootstrap admin)."""
        if role == "platform-admin":
            return self.admin
        if role not in self.clients:
            self.clients[role] = client_for(self.app, self.tenant.tokens[role])
        return self.clients[role]

    async def upload(
        self,
        doc: PackDoc | dict[str, Any],
        *,
        role: str = "tenant-admin",
        activate: bool = False,
        status: int = 201,
    ) -> dict[str, Any]:
        """Upload a pack as JSON and return the stored version (asserting ``status``)."""
        body = doc.json() if isinstance(doc, PackDoc) else json.dumps(doc).encode()
        response = await self.as_(role).post(
            f"{self.base}/packs",
            content=body,
            params={"activate": str(activate).lower()},
            headers={"Content-Type": "application/json"},
        )
        return await ok(response, status)

    async def check(
        self, text: str, direction: str = "input", *, role: str = "developer", **extra: Any
    ) -> dict[str, Any]:
        """Check ``text`` and return the decision (asserting 200)."""
        response = await self.as_(role).post(
            f"{self.base}/check", json={"text": text, "direction": direction, **extra}
        )
        return await ok(response)

    async def close(self) -> None:
        """Close the per-role clients."""
        for client in self.clients.values():
            await client.aclose()


async def audit_details(client: httpx.AsyncClient, tenant_id: str, action: str) -> list[dict[str, Any]]:
    """The ``details`` of the tenant's ``content_safety`` audit entries with ``action``."""
    response = await client.get(
        "/v1/audit/events",
        params={"tenant_id": tenant_id, "category": "content_safety", "action": action, "limit": 1000},
    )
    return [entry["document"]["event"]["details"] for entry in (await ok(response))["items"]]


class BagOfWordsEmbedder:
    """A deterministic stand-in for an embedding model: hashed word counts, L2-normalised.

    Texts sharing most of their words get a high cosine similarity; that is all the semantic
    stage's plumbing needs to be exercised without loading a neural model.
    """

    def __init__(self, dimension: int = 256) -> None:
        self.dimension = dimension

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """One unit-length row per text."""
        rows = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                rows[row, int(hashlib.sha256(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
            norm = float(np.linalg.norm(rows[row]))
            if norm:
                rows[row] /= norm
        return rows
