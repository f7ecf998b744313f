"""Parsing uploaded rule packs: every malformed body is a 422 naming the field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.kernel.errors import PayloadTooLarge
from services.safety.documents import MAX_PACK_BYTES, compile_checked, media_type, parse_upload
from services.safety.errors import Unprocessable, UnsupportedMediaType
from tests.services.safety.builders import PackDoc

TENANT = "ten_" + "a" * 32


def _fields(error: Unprocessable) -> list[str]:
    return [problem["field"] for problem in error.detail]


def _with(change: Any) -> bytes:
    doc = PackDoc("acme").build()
    change(doc)
    return json.dumps(doc).encode()  # \u escapes: lone surrogates survive to the parser


def _set(**fields: Any) -> Any:
    return lambda doc: doc.update(fields)


def _cat(name: str, **fields: Any) -> Any:
    return lambda doc: doc["categories"][name].update(fields)


VALID_CATEGORY = {"action": "refuse", "keywords": ["x"]}
BAD_JSON_PACKS = [
    ("unknown action", _cat("escalate", action="explode"), "categories.escalate.action"),
    ("regex that does not compile", _cat("secrets", regexes=["(unclosed"]), "categories.secrets.regexes"),
    ("regex matching nothing", _cat("secrets", regexes=["a*"]), "categories.secrets.regexes"),
    ("bad template placeholder", _set(refusal_template="no {reason}"), "refusal_template"),
    ("template on a mask category", _cat("secrets", template="x"), "categories.secrets"),
    ("unknown field", _set(colour="red"), "colour"),
    ("unknown PII kind", lambda d: d["pii"].update(passport={"action": "mask"}), "pii.passport (key)"),
    ("bad version", _set(version="one"), "version"),
    ("version too long", _set(version="1." + "1" * 70), "version"),
    ("no categories", _set(categories={}), "categories"),
    ("priority out of range", _cat("escalate", priority=5000), "categories.escalate.priority"),
    ("another tenant", _set(tenant="ten_" + "b" * 32), "tenant"),
    ("NUL in a keyword", _cat("escalate", keywords=["a\x00b"]), "categories.escalate.keywords[0]"),
    (
        "surrogate in a key",
        lambda d: d["categories"].update({"\ud800": VALID_CATEGORY}),
        "categories.\\ud800 (key)",
    ),
    ("category name", lambda d: d["categories"].update({"Bad Name": VALID_CATEGORY}), "categories"),
]


@pytest.mark.parametrize(
    ("change", "field"), [case[1:] for case in BAD_JSON_PACKS], ids=[c[0] for c in BAD_JSON_PACKS]
)
def test_malformed_json_pack_names_the_field(change: Any, field: str) -> None:
    with pytest.raises(Unprocessable) as caught:
        parse_upload(_with(change), kind="json", tenant_id=TENANT)
    assert caught.value.status_code == 422
    assert field in _fields(caught.value), caught.value.message
    assert field in caught.value.message


@pytest.mark.parametrize(
    ("body", "kind", "problem"),
    [
        (b"[1, 2]", "json", "expected a mapping, got list"),
        (b'{"id": ', "json", "not valid JSON"),
        (b"\xff\xfe", "json", "not UTF-8"),
        (b"id: [unclosed", "yaml", "not valid YAML"),
        (
            b"base: &a {action: refuse, keywords: [x]}\nid: p\nversion: 1.0.0\ncategories: {c: *a}",
            "yaml",
            "aliases",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "json", "nested too deeply"),
    ],
    ids=["not-a-mapping", "truncated-json", "not-utf8", "broken-yaml", "yaml-alias", "deep-nesting"],
)
def test_unreadable_bodies_are_422(body: bytes, kind: str, problem: str) -> None:
    with pytest.raises(Unprocessable, match=problem):
        parse_upload(body, kind=kind, tenant_id=TENANT)


def test_an_oversized_body_is_413() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_upload(b" " * (MAX_PACK_BYTES + 1), kind="yaml", tenant_id=TENANT)


def test_a_keyword_that_normalises_to_nothing_fails_compilation_naming_it() -> None:
    pack = parse_upload(
        _with(lambda d: d["categories"]["escalate"].update(keywords=["ok", "***"])),
        kind="json",
        tenant_id=TENANT,
    )
    with pytest.raises(Unprocessable) as caught:
        compile_checked(pack)
    assert _fields(caught.value) == ["categories.escalate.keywords[1]"]


def test_the_uploaded_pack_is_scoped_to_the_uploader() -> None:
    body = _with(lambda d: d.update(tenant=TENANT))
    assert parse_upload(body, kind="json", tenant_id=TENANT).scope == f"tenant:{TENANT}"
    assert parse_upload(PackDoc("acme").json(), kind="json", tenant_id=TENANT).tenant == TENANT
    assert parse_upload(PackDoc("acme").json(), kind="json", tenant_id=None).scope == "global"
    with pytest.raises(Unprocessable, match="must be absent or null for a platform pack"):
        parse_upload(body, kind="json", tenant_id=None)


def test_yaml_and_json_give_the_same_pack() -> None:
    import yaml

    doc = PackDoc("acme").build()
    from_yaml = parse_upload(yaml.safe_dump(doc, allow_unicode=True).encode(), kind="yaml", tenant_id=TENANT)
    from_json = parse_upload(json.dumps(doc).encode(), kind="json", tenant_id=TENANT)
    assert from_yaml.digest == from_json.digest


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        ("application/json", "json"),
        ("application/json; charset=utf-8", "json"),
        ("application/yaml", "yaml"),
        ("text/yaml", "yaml"),
        ("application/x-yaml", "yaml"),
    ],
)
def test_media_types(header: str, kind: str) -> None:
    assert media_type(header) == kind


@pytest.mark.parametrize("header", [None, "", "text/plain", "application/xml"])
def test_other_media_types_are_415(header: str | None) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        media_type(header)
    assert caught.value.status_code == 415
