from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from security.safety.packs import compile_pack
from security.safety.rules import Action, Direction, PackValidationError, load_pack, parse_pack


def _with(builder: Any, path: list[str], value: Any) -> dict[str, Any]:
    doc = builder.document()
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "field", "fragment"),
    [
        (["id"], "Bad Id", "id", "should match pattern"),
        (["version"], "latest", "version", "should match pattern"),
        (["categories"], {}, "categories", "at least 1 item"),
        (
            ["categories", "weapons", "action"],
            "explode",
            "categories.weapons.action",
            "'allow', 'mask', 'review'",
        ),
        (
            ["categories", "weapons", "priority"],
            5000,
            "categories.weapons.priority",
            "less than or equal to 1000",
        ),
        (
            ["categories", "weapons", "regexes"],
            ["ok", "(unclosed"],
            "categories.weapons.regexes",
            "entry [1]",
        ),
        (
            ["categories", "weapons", "regexes"],
            ["a*"],
            "categories.weapons.regexes",
            "matches the empty string",
        ),
        (
            ["categories", "weapons", "keywords"],
            ["ok", " "],
            "categories.weapons.keywords",
            "entry [1] is blank",
        ),
        (["categories", "weapons", "directions"], [], "categories.weapons.directions", "at least one"),
        (["categories", "weapons", "colour"], "red", "categories.weapons.colour", "Extra inputs"),
        (
            ["categories", "weapons"],
            {"action": "refuse"},
            "categories.weapons",
            "needs keywords, regexes or exemplars",
        ),
        (
            ["categories", "weapons"],
            {"action": "mask", "keywords": ["x"], "template": "no"},
            "categories.weapons",
            "template is only used by refuse/review",
        ),
        (
            ["categories", "weapons", "template"],
            "bad {thing}",
            "<pack>",
            "only use the placeholder {category}",
        ),
        (["categories", "Bad Name"], {"action": "refuse", "keywords": ["x"]}, "categories", "must match"),
        (["pii"], {"passport": {"action": "mask"}}, "pii.passport (key)", "china_id"),
        (["refusal_template"], "{0}", "refusal_template", "placeholder"),
        (["pii"], {"mobile": {"action": "review", "template": "{x}"}}, "pii.mobile.template", "placeholder"),
        (["semantic"], {"threshold": 0}, "semantic.threshold", "greater than 0"),
    ],
)
def test_validation_names_the_field(
    builder: Any, path: list[str], value: Any, field: str, fragment: str
) -> None:
    with pytest.raises(PackValidationError) as caught:
        parse_pack(_with(builder, path, value), source="t.yaml")
    message = str(caught.value)
    assert message.startswith("invalid rule pack t.yaml: ")
    assert any(path_ == field and fragment in text for path_, text in caught.value.errors), (
        caught.value.errors
    )
    assert field in message


def test_a_document_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(PackValidationError, match="expected a mapping, got list"):
        parse_pack([1, 2], source="x")  # type: ignore[arg-type]


def test_keyword_that_normalises_to_nothing_is_refused_at_compile(builder: Any) -> None:
    pack = builder.category("noise", action="mask", keywords=["ok", "***"]).pack()
    with pytest.raises(
        PackValidationError, match=r"categories\.noise\.keywords\[1\]: '\*\*\*' is empty once normalised"
    ):
        compile_pack(pack)


def test_defaults_and_scope(builder: Any) -> None:
    pack = builder.pack()
    category = pack.categories["weapons"]
    assert category.directions == (Direction.INPUT, Direction.OUTPUT)
    assert category.action is Action.REFUSE
    assert pack.scope == "global"
    assert builder.with_(tenant="t-1").pack().scope == "tenant:t-1"


def test_digest_changes_with_content(builder: Any) -> None:
    first = builder.pack()
    assert first.digest == builder.pack().digest
    assert builder.category("fraud", action="refuse", keywords=["洗钱"]).pack().digest != first.digest


def test_load_demo_pack(demo_pack_path: Path) -> None:
    pack = load_pack(demo_pack_path)
    assert (pack.id, pack.version, pack.tenant) == ("demo", "1.0.0", None)
    assert {"weapons", "fraud", "self_harm", "credentials", "exemptions"} <= set(pack.categories)
    assert pack.categories["exemptions"].action is Action.ALLOW


def test_load_pack_errors(tmp_path: Path) -> None:
    with pytest.raises(PackValidationError, match="cannot read"):
        load_pack(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: [unclosed\n", encoding="utf-8")
    with pytest.raises(PackValidationError, match="not valid YAML"):
        load_pack(broken)
