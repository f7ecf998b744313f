"""Builders and fixtures for the content-safety tests."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from security.safety.packs import CompiledPack, compile_pack
from security.safety.rules import RulePack, load_pack, parse_pack

PACKS_DIR = Path(__file__).resolve().parents[3] / "security" / "safety" / "packs"
DEMO_PACK = PACKS_DIR / "demo.yaml"
DEMO_LABELLED = PACKS_DIR / "demo-labelled.jsonl"


class PackBuilder:
    """Builds pack documents: a minimal valid pack, then targeted changes."""

    def __init__(self) -> None:
        self.doc: dict[str, Any] = {
            "id": "test",
            "version": "1.0.0",
            "categories": {"weapons": {"action": "refuse", "priority": 100, "keywords": ["炸弹"]}},
        }

    def with_(self, **fields: Any) -> PackBuilder:
        """Set top-level fields."""
        self.doc.update(fields)
        return self

    def category(self, name: str, **spec: Any) -> PackBuilder:
        """Add or replace one category."""
        self.doc["categories"][name] = spec
        return self

    def pii(self, kind: str, **spec: Any) -> PackBuilder:
        """Configure one PII kind."""
        self.doc.setdefault("pii", {})[kind] = spec
        return self

    def document(self) -> dict[str, Any]:
        """A deep copy of the document."""
        return copy.deepcopy(self.doc)

    def pack(self) -> RulePack:
        """The validated pack."""
        return parse_pack(self.document())

    def compiled(self, backend: str = "ahocorasick-rs") -> CompiledPack:
        """The compiled pack."""
        return compile_pack(self.pack(), backend=backend)


@pytest.fixture
def builder() -> PackBuilder:
    return PackBuilder()


@pytest.fixture(scope="session")
def demo_pack() -> CompiledPack:
    return compile_pack(load_pack(DEMO_PACK))


@pytest.fixture(scope="session")
def demo_pack_path() -> Path:
    return DEMO_PACK


@pytest.fixture(scope="session")
def demo_labelled_path() -> Path:
    return DEMO_LABELLED
