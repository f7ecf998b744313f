"""CycloneDX 1.6 JSON SBOM of an installed Python environment, with a licence policy.

Every installed distribution becomes a ``library`` component (name, version,
``pkg:pypi`` purl, licence, publisher, home page, a SHA-256 of its ``RECORD`` file — the
installer's list of per-file hashes — as a property) and the unconditional
``Requires-Dist`` edges between installed distributions become ``dependencies``.
Licences outside the allow-list, or that cannot be identified, are flagged both in the
returned findings and on the component (property ``stic:licence-policy``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import re
import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from security.supplychain.licenses import AllowList, licence_from_metadata, licence_ids, metadata_field

SPEC_VERSION = "1.6"
TOOL_NAME = "stic"
_FAMILIES = {"BSD", "Apache"}


def canonical_name(name: str) -> str:
    """PEP 503 normalised project name (also the purl name for PyPI)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True, slots=True)
class LicenceFinding:
    """A component whose licence needs review: ``reason`` is ``unknown`` or ``not-allowed``."""

    name: str
    version: str
    licence: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class SbomReport:
    """The CycloneDX document (a JSON-ready dict) and the licence findings, sorted by name."""

    bom: dict[str, Any]
    findings: list[LicenceFinding]


def _purl(name: str, version: str) -> str:
    return f"pkg:pypi/{canonical_name(name)}@{version}"


def _licence_entries(expression: str) -> list[dict[str, Any]]:
    ids = licence_ids(expression)
    if any(i in _FAMILIES for i in ids):
        return [{"license": {"name": i}} for i in dict.fromkeys(ids)]
    return [{"expression": expression}]


def _record_sha256(dist: md.Distribution) -> str | None:
    try:
        record = dist.read_text("RECORD")
    except OSError:
        return None
    return None if record is None else hashlib.sha256(record.encode()).hexdigest()


def _requirements(dist: md.Distribution) -> list[str]:
    names = []
    for raw in dist.requires or []:
        try:
            requirement = Requirement(raw)
        except InvalidRequirement:
            continue
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            names.append(canonical_name(requirement.name))
    return names


def _component(dist: md.Distribution, licence: str | None, verdict: str) -> dict[str, Any]:
    meta = dist.metadata
    name, version = meta["Name"], dist.version
    component: dict[str, Any] = {
        "type": "library",
        "bom-ref": _purl(name, version),
        "name": name,
        "version": version,
        "purl": _purl(name, version),
    }
    if summary := (metadata_field(meta, "Summary") or "").strip():
        component["description"] = summary
    publisher = next(
        (v.strip() for f in ("Author", "Author-email", "Maintainer") if (v := metadata_field(meta, f))), ""
    )
    if publisher:
        component["publisher"] = publisher
    if licence:
        component["licenses"] = _licence_entries(licence)
    homepage = (metadata_field(meta, "Home-page") or "").strip()
    if homepage.startswith(("http://", "https://")):
        component["externalReferences"] = [{"type": "website", "url": homepage}]
    properties = [{"name": "stic:licence-policy", "value": verdict}]
    if licence:
        properties.append({"name": "stic:licence-expression", "value": licence})
    if record := _record_sha256(dist):
        properties.append({"name": "stic:dist-info-record-sha256", "value": record})
    component["properties"] = properties
    return component


def build_sbom(
    *,
    allow: AllowList | None = None,
    distributions: Iterable[md.Distribution] | None = None,
    now: datetime | None = None,
    serial: uuid.UUID | None = None,
) -> SbomReport:
    """Describe ``distributions`` (default: everything importable in this interpreter).

    Duplicate distributions (the same name on ``sys.path`` twice) are reported once, first wins.
    """
    policy = allow or AllowList.of()
    dists: dict[str, md.Distribution] = {}
    for dist in distributions if distributions is not None else md.distributions():
        name = dist.metadata["Name"]
        if name:
            dists.setdefault(canonical_name(name), dist)

    components, findings, dependencies = [], [], []
    for key in sorted(dists):
        dist = dists[key]
        licence = licence_from_metadata(dist.metadata)
        if licence is None:
            verdict = "flagged: unknown licence"
            findings.append(LicenceFinding(dist.metadata["Name"], dist.version, None, "unknown"))
        elif not policy.allows(licence):
            verdict = "flagged: not in allow-list"
            findings.append(LicenceFinding(dist.metadata["Name"], dist.version, licence, "not-allowed"))
        else:
            verdict = "allowed"
        components.append(_component(dist, licence, verdict))
        ref = _purl(dist.metadata["Name"], dist.version)
        depends = sorted(
            {_purl(dists[r].metadata["Name"], dists[r].version) for r in _requirements(dist) if r in dists}
        )
        dependencies.append({"ref": ref, "dependsOn": depends})

    try:
        tool_version = md.version("stic")
    except md.PackageNotFoundError:
        tool_version = "0+unknown"
    timestamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    bom: dict[str, Any] = {
        "$schema": f"http://cyclonedx.org/schema/bom-{SPEC_VERSION}.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": (serial or uuid.uuid4()).urn,
        "version": 1,
        "metadata": {
            "timestamp": timestamp,
            "tools": {"components": [{"type": "application", "name": TOOL_NAME, "version": tool_version}]},
            "component": {
                "type": "application",
                "bom-ref": "python-environment",
                "name": "python-environment",
                "version": ".".join(str(v) for v in sys.version_info[:3]),
                "properties": [
                    {"name": "stic:python-implementation", "value": sys.implementation.name},
                    {"name": "stic:sys-prefix", "value": sys.prefix},
                    {"name": "stic:licence-allow-list", "value": " ".join(policy.patterns)},
                ],
            },
        },
        "components": components,
        "dependencies": [
            {"ref": "python-environment", "dependsOn": [c["bom-ref"] for c in components]},
            *dependencies,
        ],
    }
    return SbomReport(bom=bom, findings=findings)
