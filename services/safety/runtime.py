"""What the safety service keeps in memory: compiled packs, the semantic stage, the audit hook.

Pack versions are immutable, so a compiled pack cached under its row id never goes stale; the
cache is a bounded LRU shared by every request of the process. The semantic stage is optional:
when an :class:`~security.safety.semantic.Embedder` is configured, each pack with exemplars
gets its own :class:`~security.safety.semantic.EmbeddingSimilarityClassifier` (cached with it).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from security.safety.packs import CompiledPack
from security.safety.rules import parse_pack
from security.safety.semantic import Embedder, EmbeddingSimilarityClassifier, SemanticClassifier
from services.kernel.audit import AuditSink
from services.kernel.errors import STICError
from services.safety.documents import compile_checked
from services.safety.models import SafetyPackVersion


class StoredPackCorrupted(STICError):
    """A stored pack no longer matches the digest recorded when it was uploaded (never run it)."""

    status_code = 500
    code = "pack_integrity_error"


@dataclass(frozen=True, slots=True)
class LoadedPack:
    """A stored pack version ready to run, with its semantic classifier (if any)."""

    version_id: str
    scope: str
    compiled: CompiledPack
    semantic: SemanticClassifier | None


class SafetyRuntime:
    """Process-wide state of the safety service (``app.state.safety``)."""

    def __init__(self, *, audit: AuditSink, embedder: Embedder | None = None, cache_size: int = 128) -> None:
        if cache_size < 1:
            raise ValueError(f"cache_size must be positive, got {cache_size}")
        self.audit = audit
        self.embedder = embedder
        self._cache_size = cache_size
        self._cache: OrderedDict[str, LoadedPack] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def semantic_enabled(self) -> bool:
        """Whether checks run the semantic stage (for packs that define exemplars)."""
        return self.embedder is not None

    def load(self, row: SafetyPackVersion) -> LoadedPack:
        """The compiled form of a stored version (cached); raises :class:`StoredPackCorrupted`."""
        with self._lock:
            cached = self._cache.get(row.id)
            if cached is not None:
                self._cache.move_to_end(row.id)
                return cached
        pack = parse_pack(row.document, source=f"stored pack {row.id}")
        if pack.digest != row.digest:
            raise StoredPackCorrupted(
                f"stored pack {row.pack_id}@{row.version} ({row.id}) does not match its recorded digest"
            )
        compiled = compile_checked(pack)
        semantic: SemanticClassifier | None = None
        if self.embedder is not None and any(c.exemplars for c in pack.categories.values()):
            semantic = EmbeddingSimilarityClassifier.for_pack(compiled, embedder=self.embedder)
        loaded = LoadedPack(row.id, row.scope, compiled, semantic)
        with self._lock:
            self._cache[row.id] = loaded
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return loaded
