"""Builders for fake installed distributions and the CycloneDX schema validator."""

from __future__ import annotations

import importlib.metadata as md
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cyclonedx.schema._res as cdx_res
import jsonschema
import pytest
from referencing import Registry, Resource


class DistBuilder:
    """Builds ``<name>-<version>.dist-info`` folders; ``.dist()`` returns an importlib Distribution."""

    def __init__(self, root: Path, name: str, version: str) -> None:
        self._root, self._name, self._version = root, name, version
        self._headers: list[tuple[str, str]] = []
        self._record: str | None = f"{name}/__init__.py,sha256=abc,10\n"

    def header(self, key: str, value: str) -> DistBuilder:
        self._headers.append((key, value))
        return self

    def licence(self, value: str) -> DistBuilder:
        return self.header("License", value)

    def expression(self, value: str) -> DistBuilder:
        return self.header("License-Expression", value)

    def classifier(self, value: str) -> DistBuilder:
        return self.header("Classifier", value)

    def requires(self, value: str) -> DistBuilder:
        return self.header("Requires-Dist", value)

    def no_record(self) -> DistBuilder:
        self._record = None
        return self

    def dist(self) -> md.Distribution:
        folder = self._root / f"{self._name.replace('-', '_')}-{self._version}.dist-info"
        folder.mkdir(parents=True)
        lines = ["Metadata-Version: 2.4", f"Name: {self._name}", f"Version: {self._version}"]
        lines += [f"{k}: {v}" for k, v in self._headers]
        (folder / "METADATA").write_text("\n".join(lines) + "\n", encoding="utf-8")
        if self._record is not None:
            (folder / "RECORD").write_text(self._record, encoding="utf-8")
        return md.PathDistribution(folder)


@pytest.fixture
def make_dist(tmp_path: Path) -> Callable[[str, str], DistBuilder]:
    """``make_dist(name, version)`` → a :class:`DistBuilder` rooted in a fresh temporary folder."""
    return lambda name, version: DistBuilder(tmp_path, name, version)


@pytest.fixture(scope="session")
def cyclonedx_validator() -> jsonschema.protocols.Validator:
    """A JSON-schema validator for CycloneDX 1.6 (schemas shipped by cyclonedx-python-lib)."""
    base = Path(cdx_res.__file__).parent

    def resource(name: str) -> Resource[Any]:
        return Resource.from_contents(json.loads((base / name).read_text(encoding="utf-8")))

    registry: Registry[Any] = Registry().with_resources(
        [
            ("http://cyclonedx.org/schema/spdx.schema.json", resource("spdx.SNAPSHOT.schema.json")),
            ("http://cyclonedx.org/schema/jsf-0.82.schema.json", resource("jsf-0.82.SNAPSHOT.schema.json")),
            (
                "http://cyclonedx.org/schema/cryptography-defs.schema.json",
                resource("cryptography-defs.SNAPSHOT.schema.json"),
            ),
        ]
    )
    schema = json.loads((base / "bom-1.6.SNAPSHOT.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema, registry=registry)
