"""Tamper-evident audit log: RFC 9162 Merkle tree over SM3 with SM2-signed checkpoints.

- :mod:`~security.auditlog.merkle` — hashing, compact tree, proofs, RFC 9162 verifiers (pure)
- :mod:`~security.auditlog.canonical` — the canonical JSON that is hashed
- :mod:`~security.auditlog.records` — :class:`AuditRecord` and the leaf document
- :mod:`~security.auditlog.log` — :class:`AuditLog`, the batched durable sequencer
- :mod:`~security.auditlog.checkpoint` / :mod:`~security.auditlog.signing` — signed-note checkpoints, SM2
- :mod:`~security.auditlog.store` — reads: entries, proofs, checkpoints
- :mod:`~security.auditlog.verify` / :mod:`~security.auditlog.cli` — ``stic audit verify``
- :class:`MerkleAuditSink` — the kernel ``AuditSink`` backed by the log
"""

from security.auditlog.log import Appended, AuditLog, LogConfig
from security.auditlog.records import AuditRecord
from security.auditlog.sink import MerkleAuditSink

__all__ = ["Appended", "AuditLog", "AuditRecord", "LogConfig", "MerkleAuditSink"]
