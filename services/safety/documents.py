"""Turn an uploaded rule-pack body (YAML or JSON bytes) into a validated, compiled pack.

Everything wrong with a body is a :class:`~services.safety.errors.Unprocessable` (HTTP 422)
whose detail lists ``{"field": <path>, "problem": <text>}`` like the platform's request
validation, so the caller learns *which* field is wrong. YAML aliases are refused (an alias
bomb would make a small body expand into an enormous document), and strings may not carry
control characters other than tab and newlines (PostgreSQL rejects NUL; the others only break
logs and reviews).
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from security.safety.packs import CompiledPack, compile_pack
from security.safety.rules import PackValidationError, RulePack, parse_pack
from services.kernel.errors import PayloadTooLarge
from services.safety.errors import Unprocessable, UnsupportedMediaType

JSON_TYPES = frozenset({"application/json"})
YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})
MAX_PACK_BYTES = 262_144
MAX_VERSION_CHARS = 64
_ALLOWED_CONTROL = frozenset("\t\n\r")


def invalid_pack(errors: list[tuple[str, str]]) -> Unprocessable:
    """The 422 error for a pack with these ``(field path, problem)`` pairs."""
    return Unprocessable.of("rule pack", errors)


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases (so no node is ever shared or expanded twice)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases are not accepted in rule packs", event.start_mark
            )
        return super().compose_node(parent, index)


def media_type(content_type: str | None) -> str:
    """``"json"`` or ``"yaml"`` for a Content-Type header; raises :class:`UnsupportedMediaType`."""
    essence = (content_type or "").split(";", 1)[0].strip().lower()
    if essence in JSON_TYPES:
        return "json"
    if essence in YAML_TYPES:
        return "yaml"
    accepted = ", ".join(sorted(JSON_TYPES | YAML_TYPES))
    raise UnsupportedMediaType(
        f"rule packs are sent as JSON or YAML (Content-Type one of {accepted}), not {essence or 'nothing'!r}"
    )


def _load(body: bytes, kind: str) -> Any:
    if len(body) > MAX_PACK_BYTES:
        raise PayloadTooLarge(
            f"a rule pack is at most {MAX_PACK_BYTES} bytes, got {len(body)}",
            detail={"limit_bytes": MAX_PACK_BYTES, "body_bytes": len(body)},
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise invalid_pack([("<body>", f"not UTF-8 (byte {exc.start})")]) from None
    try:
        if kind == "json":
            return json.loads(text)
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except json.JSONDecodeError as exc:
        raise invalid_pack([("<body>", f"not valid JSON: {exc.msg} at line {exc.lineno}")]) from None
    except yaml.YAMLError as exc:
        raise invalid_pack([("<body>", f"not valid YAML: {exc}")]) from None
    except RecursionError:
        raise invalid_pack([("<body>", "nested too deeply")]) from None


def _printable(key: Any) -> str:
    return key.encode("utf-8", "backslashreplace").decode() if isinstance(key, str) else str(key)


def _bad_strings(value: Any, path: str, found: list[tuple[str, str]]) -> None:
    """Report strings with control characters or lone surrogates (neither is storable text)."""
    if isinstance(value, str):
        bad = next((c for c in value if (c < " " or c == "\x7f") and c not in _ALLOWED_CONTROL), None)
        if bad is not None:
            found.append((path or "<pack>", f"contains the control character U+{ord(bad):04X}"))
        elif any("\ud800" <= c <= "\udfff" for c in value):
            found.append((path or "<pack>", "contains a lone surrogate"))
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{_printable(key)}" if path else _printable(key)
            _bad_strings(key, f"{where} (key)", found)
            _bad_strings(item, where, found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _bad_strings(item, f"{path}[{index}]", found)


def parse_upload(body: bytes, *, kind: str, tenant_id: str | None) -> RulePack:
    """Validate an uploaded pack for ``tenant_id`` (``None`` = a global pack).

    The document's ``tenant`` must be absent, null or ``tenant_id``; the returned pack carries
    ``tenant_id`` so that its scope is the uploader's.
    """
    document = _load(body, kind)
    if not isinstance(document, dict):
        raise invalid_pack([("<pack>", f"expected a mapping, got {type(document).__name__}")])
    problems: list[tuple[str, str]] = []
    _bad_strings(document, "", problems)
    declared = document.get("tenant")
    if declared is not None and declared != tenant_id:
        where = "a platform pack" if tenant_id is None else f"tenant {tenant_id}"
        problems.append(("tenant", f"must be absent or null for {where}, not {declared!r}"))
    version = document.get("version")
    if isinstance(version, str) and len(version) > MAX_VERSION_CHARS:
        problems.append(("version", f"at most {MAX_VERSION_CHARS} characters"))
    if problems:
        raise invalid_pack(problems)
    try:
        return parse_pack({**document, "tenant": tenant_id}, source="upload")
    except PackValidationError as exc:
        raise invalid_pack(exc.errors) from None


def compile_checked(pack: RulePack) -> CompiledPack:
    """Compile ``pack``; a keyword that normalises to nothing is a 422 naming it."""
    try:
        return compile_pack(pack)
    except PackValidationError as exc:
        raise invalid_pack(exc.errors) from None
