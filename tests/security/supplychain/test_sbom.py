"""CycloneDX SBOM of fake and real environments, schema-validated, with licence flags."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import jsonschema

from security.supplychain.licenses import AllowList
from security.supplychain.sbom import build_sbom


def _component(bom: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in bom["components"] if c["name"] == name)


def _prop(component: dict[str, Any], name: str) -> str | None:
    return next((p["value"] for p in component["properties"] if p["name"] == name), None)


def test_components_licences_dependencies_and_flags(
    make_dist: Callable[..., Any], cyclonedx_validator: jsonschema.protocols.Validator
) -> None:
    dists = [
        make_dist("Web_Frame", "1.2.0")
        .expression("MIT")
        .requires("tiny-util>=1")
        .requires('heavy-extra; extra == "all"')
        .header("Summary", "A web framework")
        .header("Author", "Jane Dev")
        .header("Home-page", "https://example.org/web")
        .dist(),
        make_dist("tiny-util", "0.3").classifier("License :: OSI Approved :: BSD License").dist(),
        make_dist("heavy-extra", "2.0").licence("GPLv3").dist(),
        make_dist("mystery", "0.0.1").no_record().dist(),
    ]
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    serial = uuid.UUID("12345678-1234-5678-1234-567812345678")
    report = build_sbom(distributions=dists, now=when, serial=serial)
    bom = report.bom

    assert list(cyclonedx_validator.iter_errors(bom)) == []
    assert bom["specVersion"] == "1.6"
    assert bom["serialNumber"] == "urn:uuid:12345678-1234-5678-1234-567812345678"
    assert bom["metadata"]["timestamp"] == "2026-01-02T03:04:05Z"
    assert [c["name"] for c in bom["components"]] == ["heavy-extra", "mystery", "tiny-util", "Web_Frame"]

    web = _component(bom, "Web_Frame")
    assert web["purl"] == "pkg:pypi/web-frame@1.2.0"
    assert web["licenses"] == [{"expression": "MIT"}]
    assert web["publisher"] == "Jane Dev"
    assert web["externalReferences"] == [{"type": "website", "url": "https://example.org/web"}]
    assert len(_prop(web, "stic:dist-info-record-sha256") or "") == 64
    assert _component(bom, "tiny-util")["licenses"] == [{"license": {"name": "BSD"}}]
    assert _prop(_component(bom, "mystery"), "stic:dist-info-record-sha256") is None

    edges = {d["ref"]: d["dependsOn"] for d in bom["dependencies"]}
    assert edges["pkg:pypi/web-frame@1.2.0"] == ["pkg:pypi/tiny-util@0.3"]  # the extra-only edge is left out
    assert len(edges["python-environment"]) == 4

    flagged = {(f.name, f.reason, f.licence) for f in report.findings}
    assert flagged == {("heavy-extra", "not-allowed", "GPL-3.0-only"), ("mystery", "unknown", None)}
    assert _prop(_component(bom, "heavy-extra"), "stic:licence-policy") == "flagged: not in allow-list"
    assert _prop(_component(bom, "mystery"), "stic:licence-policy") == "flagged: unknown licence"
    assert _prop(web, "stic:licence-policy") == "allowed"


def test_allow_list_changes_the_verdict(make_dist: Callable[..., Any]) -> None:
    dists = [make_dist("copyleft", "1.0").expression("GPL-3.0-or-later").dist()]
    assert [f.name for f in build_sbom(distributions=dists).findings] == ["copyleft"]
    assert build_sbom(distributions=dists, allow=AllowList.of(["GPL-3.0-or-later"])).findings == []


def test_duplicate_distributions_are_listed_once(make_dist: Callable[..., Any], tmp_path: Any) -> None:
    first = make_dist("dup", "1.0").expression("MIT").dist()
    report = build_sbom(distributions=[first, first])
    assert [c["name"] for c in report.bom["components"]] == ["dup"]


def test_sbom_of_this_environment_is_valid_cyclonedx(
    cyclonedx_validator: jsonschema.protocols.Validator,
) -> None:
    report = build_sbom()
    names = {c["name"].lower() for c in report.bom["components"]}
    assert {"cryptography", "gmssl", "typer"} <= names
    assert list(cyclonedx_validator.iter_errors(report.bom)) == []


def test_validator_catches_a_broken_document(cyclonedx_validator: jsonschema.protocols.Validator) -> None:
    bom = build_sbom(distributions=[]).bom
    bom["bomFormat"] = "SPDX"
    assert list(cyclonedx_validator.iter_errors(bom))
