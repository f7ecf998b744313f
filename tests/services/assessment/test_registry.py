"""The probe registry: every registered probe honours the protocol."""

from __future__ import annotations

import types

import pytest

from services.assessment.catalogue import Catalogue
from services.assessment.registry import RegistryError, registered_probes, validate_probes


def test_every_registered_probe_honours_the_protocol(catalogue: Catalogue):
    probes = registered_probes()
    assert validate_probes(probes, catalogue=catalogue) == probes


def test_valid_probes_pass(catalogue: Catalogue, build):
    probes = (build.probe("a", ("6.2.4.2.e",)), build.probe("b", ("6.2.4.2.e", "6.4.4.b")))
    assert validate_probes(probes, catalogue=catalogue) == probes


class _Sync:
    name = "sync"
    clause_ids = ("6.2.4.2.e",)

    def run(self, ctx):
        return None


@pytest.mark.parametrize(
    ("probe_args", "message"),
    [
        (("", ("6.2.4.2.e",)), "non-empty string"),
        (("x", ()), "non-empty tuple"),
        (("x", ("9.9.9.z",)), "unknown clause id"),
        (("x", ("5.1.1.a",)), "can only be attested"),
        (("x", ("6.3.2.2.a",)), "derived"),
    ],
)
def test_invalid_probes_are_refused(catalogue: Catalogue, build, probe_args, message):
    with pytest.raises(RegistryError, match=message):
        validate_probes([build.probe(*probe_args)], catalogue=catalogue)


def test_duplicates_sync_run_and_non_probes_are_refused(catalogue: Catalogue, build):
    with pytest.raises(RegistryError, match="duplicate probe name"):
        validate_probes(
            [build.probe("a", ("6.2.4.2.e",)), build.probe("a", ("6.4.4.b",))], catalogue=catalogue
        )
    with pytest.raises(RegistryError, match="async"):
        validate_probes([_Sync()], catalogue=catalogue)
    with pytest.raises(RegistryError, match="lacks name"):
        validate_probes([object()], catalogue=catalogue)


def test_registered_probes_reads_the_modules_probes(build):
    module = types.ModuleType("fake_capability_probes")
    module.PROBES = (build.probe("fake", ("6.2.4.2.e",)),)  # type: ignore[attr-defined]
    broken = types.ModuleType("broken_probes")
    modules = {"fake_capability_probes": module, "broken_probes": broken}
    assert registered_probes(["fake_capability_probes"], importer=modules.__getitem__) == module.PROBES
    with pytest.raises(RegistryError, match="must export PROBES"):
        registered_probes(["broken_probes"], importer=modules.__getitem__)
