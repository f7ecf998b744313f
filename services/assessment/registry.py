"""THE list of probes the assessment runs, and the check that each honours the probe protocol.

How to add probes for a capability: write them in ``services/<capability>/probes.py`` (each a class
with ``name``, ``clause_ids`` and ``async def run(self, ctx)``; see ``services.assessment.probes.base``),
export them as ``PROBES: tuple[Probe, ...]`` and add that module to ``_PROBE_MODULES`` below. The test
``tests/services/assessment/test_registry.py`` then checks every registered probe against the
catalogue: unique name, known clause ids, no section-5 or derived clause, ``run`` a coroutine.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Sequence
from types import ModuleType

from services.assessment.catalogue import Attestable, Catalogue
from services.assessment.probes.base import Probe

# Modules exporting ``PROBES``, in the order they run. Capability modules add themselves here, e.g.
# "services.iam.probes", "services.quotas.probes".
_PROBE_MODULES: tuple[str, ...] = (
    "services.iam.probes",
    "services.quotas.probes",
    "services.audit.probes",
    "services.kms.probes",
    "services.safety.probes",
    "scheduler.service.probes",
    "inference.probes",
    "inference.probes_batch",
    "inference.probes_engines",
    "inference.probes_resources",
)


class RegistryError(ValueError):
    """One or more probes do not honour the protocol; the message lists every problem."""


def registered_probes(
    modules: Sequence[str] = _PROBE_MODULES,
    *,
    importer: Callable[[str], ModuleType] = importlib.import_module,
) -> tuple[Probe, ...]:
    """Import each module of ``modules`` (through ``importer``) and concatenate their ``PROBES``."""
    probes: list[Probe] = []
    for name in modules:
        module = importer(name)
        exported = getattr(module, "PROBES", None)
        if not isinstance(exported, tuple | list):
            raise RegistryError(f"{name} must export PROBES as a tuple of probes")
        probes.extend(exported)
    return tuple(probes)


def validate_probes(probes: Sequence[object], *, catalogue: Catalogue) -> tuple[Probe, ...]:
    """``probes`` typed as :class:`Probe` if each honours the protocol, else :class:`RegistryError`.

    A probe must have a non-empty unique ``name``, a non-empty tuple ``clause_ids`` of catalogue clauses
    that are neither in section 5 (attested only) nor derived (computed), and a coroutine ``run``.
    """
    problems: list[str] = []
    seen: set[str] = set()
    known = catalogue.clause_ids
    for probe in probes:
        name = getattr(probe, "name", None)
        label = repr(name) if name else repr(probe)
        if not isinstance(probe, Probe):
            problems.append(f"{label}: lacks name, clause_ids or run")
            continue
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{label}: name must be a non-empty string")
        elif name in seen:
            problems.append(f"{label}: duplicate probe name")
        else:
            seen.add(name)
        if not inspect.iscoroutinefunction(probe.run):
            problems.append(f"{label}: run must be an async method")
        if not isinstance(probe.clause_ids, tuple) or not probe.clause_ids:
            problems.append(f"{label}: clause_ids must be a non-empty tuple")
            continue
        for clause_id in probe.clause_ids:
            if clause_id not in known:
                problems.append(f"{label}: unknown clause id {clause_id!r}")
                continue
            clause = catalogue.clause(clause_id)
            if clause.attestable is Attestable.SECTION_5:
                problems.append(f"{label}: {clause_id} is in section 5 and can only be attested")
            if clause.is_derived:
                problems.append(f"{label}: {clause_id} is derived from other clauses and cannot be probed")
    if problems:
        raise RegistryError("invalid probes: " + "; ".join(problems))
    return tuple(p for p in probes if isinstance(p, Probe))
