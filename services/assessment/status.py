"""Evidence classes of a clause and the two ways of counting them (strict, with simulated)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Status(StrEnum):
    """The status of a clause (or of one probe's outcome).

    ``verified``: exercised live on real components. ``simulated``: exercised live, but on simulated
    infrastructure. ``attested``: an operator's signed statement with digested documents, never verified
    by software. ``failed``: exercised or attested and found wanting. ``error``: the probe itself broke.
    ``not_implemented``: no probe covers the clause. ``not_attested``: the clause needs an attestation
    and none (valid) was supplied.
    """

    VERIFIED = "verified"
    SIMULATED = "simulated"
    ATTESTED = "attested"
    FAILED = "failed"
    ERROR = "error"
    NOT_IMPLEMENTED = "not_implemented"
    NOT_ATTESTED = "not_attested"


class Counting(StrEnum):
    """Which statuses count as met: strict (verified, attested) or also simulated."""

    STRICT = "strict"
    WITH_SIMULATED = "with_simulated"


PROBE_STATUSES = frozenset(
    {Status.VERIFIED, Status.SIMULATED, Status.FAILED, Status.ERROR, Status.NOT_IMPLEMENTED}
)

# Strength order used to merge several sources: the weakest (first) wins.
_ORDER = (
    Status.FAILED,
    Status.ERROR,
    Status.NOT_IMPLEMENTED,
    Status.NOT_ATTESTED,
    Status.SIMULATED,
    Status.ATTESTED,
    Status.VERIFIED,
)
_MET = {
    Counting.STRICT: frozenset({Status.VERIFIED, Status.ATTESTED}),
    Counting.WITH_SIMULATED: frozenset({Status.VERIFIED, Status.ATTESTED, Status.SIMULATED}),
}


def worst(statuses: Iterable[Status]) -> Status:
    """The weakest of ``statuses`` (failed < error < not_implemented < … < verified); needs at least one."""
    items = list(statuses)
    if not items:
        raise ValueError("worst() needs at least one status")
    return min(items, key=_ORDER.index)


def is_met(status: Status, counting: Counting) -> bool:
    """True when ``status`` counts as met under ``counting``."""
    return status in _MET[counting]
