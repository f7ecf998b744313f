"""Full verification of a stored audit log (``stic audit verify``).

Reads every entry in index order and, without trusting any stored hash:

1. checks that indexes are dense from 0 (a gap is a deleted entry), that each entry is canonical
   JSON whose embedded ``index`` equals its row (catches reordering and insertion), that the
   stored leaf hash equals ``SM3(0x00 ‖ entry)``, and that the query columns match the JSON;
2. recomputes the RFC 9162 tree from the entries themselves and compares its root with every
   signed checkpoint (and with a trusted checkpoint file, if given) — a match at size *S* proves
   that entries ``[0, S)`` are exactly what was signed;
3. verifies every checkpoint's SM2 signature, that checkpoint rows agree with their signed
   notes, that sizes and times increase together, and the RFC 9162 consistency proof served by
   the store between each pair of consecutive checkpoints (this also checks the stored tiles);
4. compares every stored tile node with the recomputed one.

Problems are reported with the leaf index they implicate; the *first bad entry* is the lowest.
A root mismatch at checkpoint *S* whose predecessor at *P* matched implicates ``[P, S)``: the
signature chain cannot say which entry inside that range changed, so the report names *P*.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import LargeBinary, cast, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from security.auditlog import merkle, store
from security.auditlog.canonical import is_canonical
from security.auditlog.checkpoint import Checkpoint, CheckpointError, NoteVerifier, open_checkpoint
from security.auditlog.models import AuditLogCheckpoint, AuditLogEntry, AuditLogNode

CHUNK = 5000
MAX_PROBLEMS = 100

# Binary columns are read through CAST so that a value whose storage type was tampered with
# (e.g. text written into the BLOB column) is still read as bytes and reported, not crashed on.
_ENTRY_COLUMNS = select(
    AuditLogEntry.idx,
    cast(AuditLogEntry.leaf_hash, LargeBinary).label("leaf_hash"),
    cast(AuditLogEntry.entry, LargeBinary).label("entry"),
    AuditLogEntry.integrated_at,
    AuditLogEntry.event_time,
    AuditLogEntry.category,
    AuditLogEntry.action,
    AuditLogEntry.service,
    AuditLogEntry.tenant_id,
    AuditLogEntry.principal_id,
    AuditLogEntry.tool,
    AuditLogEntry.decision,
)


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding: the leaf index it implicates (None: not tied to an entry), a kind, a message.

    ``end`` is set when the finding implicates the range ``[index, end)`` rather than one entry
    (a root or tile that no longer matches).
    """

    index: int | None
    kind: str
    message: str
    end: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"index": self.index, "end": self.end, "kind": self.kind, "message": self.message}


@dataclass(slots=True)
class VerifyReport:
    """Outcome of :func:`verify_log`."""

    entries: int = 0
    checkpoints: int = 0
    root: str = ""
    trusted_checkpoint_size: int | None = None
    unsigned_entries: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    @property
    def first_bad(self) -> Problem | None:
        """The problem naming the first bad entry.

        Single-entry findings win over a range finding that contains them (the range is only a
        symptom); otherwise the lowest index wins and entry-less findings come last.
        """
        if not self.problems:
            return None
        spans = [
            (p, p.index, p.end if p.end is not None else p.index + 1)
            for p in self.problems
            if p.index is not None
        ]
        exact = [(p, start, end) for p, start, end in spans if p.end is None]
        ranged = [(p, start, end) for p, start, end in spans if p.end is not None]
        # A range that contains an exact finding or a strictly narrower range is only a symptom of it.
        narrowest = [
            (r, start, end)
            for r, start, end in ranged
            if not any(start <= s and e <= end for _, s, e in exact)
            and not any(start <= s and e <= end and (s, e) != (start, end) for _, s, e in ranged)
        ]
        located = exact + narrowest
        if not located:
            return self.problems[0]
        return min(located, key=lambda item: item[1])[0]

    def add(self, index: int | None, kind: str, message: str, *, end: int | None = None) -> None:
        """Record a problem (at most :data:`MAX_PROBLEMS` are kept)."""
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(index, kind, message, end))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        first = self.first_bad
        return {
            "ok": self.ok,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "root": self.root,
            "trusted_checkpoint_size": self.trusted_checkpoint_size,
            "unsigned_entries": self.unsigned_entries,
            "first_bad": first.as_dict() if first else None,
            "problems": [p.as_dict() for p in self.problems],
        }


def _projection_problems(row: Any, document: dict[str, Any]) -> list[str]:
    event = document.get("event")
    if not isinstance(event, dict):
        return ["entry has no event object"]
    expected = {
        "category": event.get("category"),
        "action": event.get("action"),
        "service": event.get("service"),
        "tenant_id": event.get("tenant_id"),
        "principal_id": event.get("principal_id"),
        "tool": event.get("tool"),
        "decision": event.get("decision"),
    }
    wrong = [name for name, value in expected.items() if getattr(row, name) != value]
    for column, key, value in (
        ("event_time", "time", event.get("time")),
        ("integrated_at", "integrated_at", document.get("integrated_at")),
    ):
        try:
            if getattr(row, column) != datetime.fromisoformat(str(value)):
                wrong.append(column)
        except ValueError:
            wrong.append(f"{key} (unparseable)")
    return [f"column {name} differs from the hashed entry" for name in wrong]


def _check_entry(report: VerifyReport, row: Any) -> bytes:
    """Entry-local checks; returns the leaf hash recomputed from the entry bytes."""
    data = bytes(row.entry)
    digest = merkle.leaf_hash(data)
    if digest != row.leaf_hash:
        report.add(
            row.idx, "leaf_hash_mismatch", f"entry {row.idx}: stored leaf hash is not SM3(0x00 ‖ entry)"
        )
    if not is_canonical(data):
        report.add(row.idx, "not_canonical", f"entry {row.idx}: entry is not canonical JSON")
        return digest
    document = json.loads(data)
    if not isinstance(document, dict) or document.get("index") != row.idx:
        claimed = document.get("index") if isinstance(document, dict) else None
        report.add(row.idx, "index_mismatch", f"entry {row.idx}: hashed entry says index {claimed}")
    else:
        for message in _projection_problems(row, document):
            report.add(row.idx, "projection_mismatch", f"entry {row.idx}: {message}")
    return digest


async def _load_checkpoints(
    session: AsyncSession, report: VerifyReport, verifier: NoteVerifier | None, origin: str
) -> dict[int, Checkpoint]:
    rows = list(
        (await session.execute(select(AuditLogCheckpoint).order_by(AuditLogCheckpoint.size))).scalars()
    )
    report.checkpoints = len(rows)
    verified: dict[int, Checkpoint] = {}
    previous: Checkpoint | None = None
    for row in rows:
        try:
            if verifier is None:
                raise CheckpointError("no public key given, signature cannot be checked")
            checkpoint = open_checkpoint(row.note, verifier, origin=origin)
        except CheckpointError as exc:
            report.add(None, "bad_checkpoint", f"checkpoint at size {row.size}: {exc}")
            continue
        if (checkpoint.size, checkpoint.root, checkpoint.time) != (row.size, row.root_hash, row.signed_at):
            report.add(
                None, "checkpoint_row_mismatch", f"checkpoint at size {row.size}: row differs from note"
            )
            continue
        if previous is not None and checkpoint.time < previous.time:
            report.add(
                None, "checkpoint_time", f"checkpoint at size {row.size} is older than size {previous.size}"
            )
        verified[row.size] = checkpoint
        previous = checkpoint
    return verified


async def _check_nodes(
    session: AsyncSession, report: VerifyReport, expected: dict[tuple[int, int], bytes]
) -> None:
    if not expected:
        return
    keys = list(expected)
    stmt = select(AuditLogNode.level, AuditLogNode.idx, AuditLogNode.hash).where(
        tuple_(AuditLogNode.level, AuditLogNode.idx).in_(keys)
    )
    stored = {(level, idx): value for level, idx, value in (await session.execute(stmt)).all()}
    for (level, idx), value in expected.items():
        first_leaf = idx << level
        end = first_leaf + (1 << level)
        if (level, idx) not in stored:
            report.add(
                first_leaf,
                "tile_missing",
                f"stored node ({level}, {idx}) over [{first_leaf}, {end}) is missing",
            )
        elif stored[(level, idx)] != value:
            report.add(
                first_leaf,
                "tile_mismatch",
                f"stored node ({level}, {idx}) differs: entries [{first_leaf}, {end}) changed since written",
                end=end,
            )


async def verify_log(
    session: AsyncSession,
    *,
    verifier: NoteVerifier | None,
    origin: str,
    trusted_checkpoints: Sequence[Checkpoint] = (),
) -> VerifyReport:
    """Verify the whole log reachable through ``session`` (see module docstring).

    ``trusted_checkpoints`` are checkpoints the caller already trusts (e.g. from
    ``--from-checkpoint``, opened and signature-checked by the caller); the log must contain
    exactly the tree they describe as a prefix.
    """
    report = VerifyReport()
    signed = await _load_checkpoints(session, report, verifier, origin)
    targets: dict[int, list[tuple[str, Checkpoint]]] = {}
    for size, checkpoint in signed.items():
        targets.setdefault(size, []).append(("signed checkpoint", checkpoint))
    for checkpoint in trusted_checkpoints:
        targets.setdefault(checkpoint.size, []).append(("trusted checkpoint", checkpoint))
        report.trusted_checkpoint_size = checkpoint.size
    tree = merkle.CompactTree()
    last_good_size = 0
    tree_valid = True

    def compare_roots() -> None:
        nonlocal last_good_size
        for label, checkpoint in targets.get(tree.size, []):
            if checkpoint.root == tree.root():
                last_good_size = max(last_good_size, tree.size)
            else:
                report.add(
                    last_good_size,
                    "root_mismatch",
                    f"entries [{last_good_size}, {tree.size}) do not reproduce the root of the {label} "
                    f"at size {tree.size}; the first bad entry is at or after {last_good_size}",
                    end=tree.size,
                )

    compare_roots()
    after = -1
    while True:
        stmt = _ENTRY_COLUMNS.where(AuditLogEntry.idx > after).order_by(AuditLogEntry.idx).limit(CHUNK)
        rows = list((await session.execute(stmt)).all())
        if not rows:
            break
        expected_nodes: dict[tuple[int, int], bytes] = {}
        for row in rows:
            if row.idx != after + 1 and tree_valid:
                report.add(
                    after + 1, "missing_entry", f"entry {after + 1} is missing (next stored is {row.idx})"
                )
                tree_valid = False
            after = row.idx
            report.entries += 1
            digest = _check_entry(report, row)
            if tree_valid:
                for level, node_index, value in tree.append(digest):
                    if store.is_stored_level(level):
                        expected_nodes[(level, node_index)] = value
                compare_roots()
        await _check_nodes(session, report, expected_nodes)
    report.root = tree.root().hex()
    report.unsigned_entries = tree.size - max((s for s in signed if s <= tree.size), default=0)
    for size in sorted(targets):
        if size > tree.size and tree_valid:
            report.add(
                tree.size,
                "missing_entry",
                f"entries [{tree.size}, {size}) are missing: a checkpoint covers size {size}",
            )
            break
    await _check_consistency(session, report, signed, tree.size if tree_valid else 0)
    return report


async def _check_consistency(
    session: AsyncSession, report: VerifyReport, signed: dict[int, Checkpoint], size: int
) -> None:
    sizes = [s for s in sorted(signed) if s <= size]
    for old, new in itertools.pairwise(sizes):
        try:
            proof = await store.consistency_proof(session, old_size=old, new_size=new)
        except store.LogIntegrityError as exc:
            report.add(None, "proof_unavailable", f"consistency proof {old}→{new}: {exc}")
            continue
        if not merkle.verify_consistency(
            old_size=old, new_size=new, old_root=signed[old].root, new_root=signed[new].root, proof=proof
        ):
            report.add(None, "inconsistent", f"checkpoints at sizes {old} and {new} are not consistent")
