"""Effect evaluation: precision / recall / F1 of a stored pack version on a labelled JSONL body.

The body is the format of :mod:`security.safety.evaluate` (one JSON object per line: ``text``,
``labels``, optional ``action`` and ``direction``), at most :data:`MAX_LABELLED_BYTES` bytes
and :data:`MAX_EXAMPLES` examples. The run is audited with the SM3 of the body and the counts,
so an evaluation quoted later can be matched to the exact labelled set and pack version.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from security.crypto.sm3 import sm3_hex
from security.safety.evaluate import Example, LabelledFileError, evaluate, parse_example
from services.kernel.auth import Principal
from services.kernel.errors import PayloadTooLarge
from services.safety import auditing, schemas
from services.safety.errors import Unprocessable
from services.safety.runtime import SafetyRuntime
from services.safety.schemas import MAX_CHECK_CHARS
from services.safety.service import require_tenant, visible_version

MAX_LABELLED_BYTES = 524_288
MAX_EXAMPLES = 2_000
PERMISSION = "safety:write"


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_labelled(body: bytes) -> list[Example]:
    """The examples of a JSONL body; every problem is a 422 naming the line (and field)."""
    if len(body) > MAX_LABELLED_BYTES:
        raise PayloadTooLarge(
            f"a labelled set is at most {MAX_LABELLED_BYTES} bytes, got {len(body)}",
            detail={"limit_bytes": MAX_LABELLED_BYTES, "body_bytes": len(body)},
        )
    try:
        lines = body.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise Unprocessable.of("labelled set", [("<body>", f"not UTF-8 (byte {exc.start})")]) from None
    examples: list[Example] = []
    problems: list[tuple[str, str]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            example = parse_example(line, where=f"line {number}")
        except LabelledFileError as exc:
            problems.append((f"line {number}", str(exc).removeprefix(f"line {number}: ")))
            continue
        except RecursionError:
            problems.append((f"line {number}", "nested too deeply"))
            continue
        if len(example.text) > MAX_CHECK_CHARS:
            problems.append((f"line {number}", f"field 'text' is longer than {MAX_CHECK_CHARS} characters"))
        if not all(_encodable(value) for value in (example.text, *example.labels)):
            problems.append((f"line {number}", "a lone surrogate (\\ud800-\\udfff) is not text"))
        examples.append(example)
    if not examples and not problems:
        problems.append(("<body>", "no examples"))
    if len(examples) > MAX_EXAMPLES:
        problems.append(("<body>", f"at most {MAX_EXAMPLES} examples, got {len(examples)}"))
    if problems:
        raise Unprocessable.of("labelled set", problems)
    return examples


async def evaluate_version(
    *,
    session: AsyncSession,
    runtime: SafetyRuntime,
    principal: Principal,
    tenant_id: str,
    version_id: str,
    body: bytes,
    request_id: str | None,
) -> schemas.EvaluationOut:
    """Evaluate a version visible to the tenant (its own or a platform one) on ``body``."""
    await require_tenant(session, principal, tenant_id, PERMISSION)
    row = await visible_version(session, tenant_id=tenant_id, version_id=version_id)
    loaded = runtime.load(row)
    examples = parse_labelled(body)
    report = await asyncio.to_thread(evaluate, examples, pack=loaded.compiled, semantic=loaded.semantic)
    labelled_sm3 = sm3_hex(body)
    await auditing.record(
        runtime.audit,
        action="safety.evaluate",
        resource=f"safety-pack:{row.id}",
        principal=principal,
        tenant_id=tenant_id,
        request_id=request_id,
        facts={
            "pack": {"pack_version_id": row.id, "id": row.pack_id, "version": row.version},
            "labelled_sm3": labelled_sm3,
            "examples": report.examples,
            "semantic": report.semantic,
            "overall": {"tp": report.overall.tp, "fp": report.overall.fp, "fn": report.overall.fn},
            "flagged": {"tp": report.flagged.tp, "fp": report.flagged.fp, "fn": report.flagged.fn},
        },
    )
    return schemas.EvaluationOut.model_validate(
        {**report.as_dict(), "pack_version_id": row.id, "labelled_sm3": labelled_sm3}
    )
