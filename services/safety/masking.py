"""De-identification of JSON records (request logs, exports) with a masking policy.

:func:`mask_json` is the function other services call in-process (the gateway's request log);
the HTTP endpoint wraps it. Keyed hashes use a salt derived from the deployment secret
(:func:`security.masking.strategies.derive_salt`) and, for a tenant, separated per tenant, so
one tenant's hashes cannot be linked to another's and the endpoint is no oracle for another
tenant's masked logs.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from security.crypto.sm3 import hmac_sm3
from security.masking.records import MaskingPolicy, mask_record
from security.masking.strategies import Strategy, derive_salt
from services.kernel.auth import Principal
from services.safety import schemas
from services.safety.errors import Unprocessable
from services.safety.service import require_tenant

MAX_DEPTH = 32
PERMISSION = "inference:use"


def masking_salt(secret_key: str, tenant_id: str | None) -> bytes:
    """The HMAC-SM3 salt: the platform's for ``None``, else one derived per tenant."""
    platform = derive_salt(secret_key)
    return platform if tenant_id is None else hmac_sm3(platform, f"tenant:{tenant_id}".encode())


def build_policy(policy_in: schemas.MaskingPolicyIn, *, salt: bytes) -> MaskingPolicy:
    """A library policy from the request's; a field strategy the library refuses is a 422."""
    problems = [
        (f"policy.fields.{name}", f"must be redact, hash or keep, not {strategy.value}")
        for name, strategy in (policy_in.fields or {}).items()
        if strategy not in (Strategy.REDACT, Strategy.HASH, Strategy.KEEP)
    ]
    if problems:
        raise Unprocessable.of("masking policy", problems)
    if policy_in.fields is None:
        return MaskingPolicy(kinds=dict(policy_in.kinds), salt=salt, max_depth=MAX_DEPTH)
    return MaskingPolicy(
        kinds=dict(policy_in.kinds), fields=dict(policy_in.fields), salt=salt, max_depth=MAX_DEPTH
    )


def mask_json(record: Any, *, policy: MaskingPolicy) -> Any:
    """A de-identified copy of ``record``; a record nested past the policy's depth is a 422."""
    try:
        return mask_record(record, policy)
    except ValueError as exc:
        raise Unprocessable.of("record", [("record", str(exc))]) from None


async def mask(
    *, session: AsyncSession, principal: Principal, tenant_id: str, mask_in: schemas.MaskIn, secret_key: str
) -> schemas.MaskOut:
    """De-identify ``mask_in.record`` for ``tenant_id`` with the tenant's salt."""
    await require_tenant(session, principal, tenant_id, PERMISSION)
    policy = build_policy(mask_in.policy, salt=masking_salt(secret_key, tenant_id))
    return schemas.MaskOut(record=mask_json(mask_in.record, policy=policy))
