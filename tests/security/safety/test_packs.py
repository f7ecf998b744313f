from __future__ import annotations

from typing import Any

import pytest

from security.safety.keywords import BACKENDS
from security.safety.packs import PackConflictError, PackNotFoundError, PackRegistry, compile_pack


def test_compile_merges_terms_shared_by_categories(builder: Any) -> None:
    builder.category("fraud", action="refuse", keywords=["炸 弹", "洗钱", "Scam"])
    compiled = builder.compiled()
    by_text = {term.text: term for term in compiled.terms}
    assert by_text["炸弹"].categories == (("weapons", "炸弹"), ("fraud", "炸 弹"))
    assert by_text["scam"].left_boundary and by_text["scam"].right_boundary
    assert not by_text["洗钱"].left_boundary
    assert compiled.max_term_length == 4


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_compile_with_each_backend(builder: Any, backend: str) -> None:
    compiled = compile_pack(builder.pack(), backend=backend)
    assert compiled.matcher.backend == backend


def test_regex_rules_are_named_by_category_and_index(builder: Any) -> None:
    compiled = builder.category("fraud", action="refuse", regexes=["a+b", "洗.钱"]).compiled()
    assert [rule.rule_id for rule in compiled.regexes] == ["fraud/regex[0]", "fraud/regex[1]"]


def test_registry_resolves_tenant_then_global(builder: Any) -> None:
    registry = PackRegistry()
    with pytest.raises(PackNotFoundError, match="no rule pack applies"):
        registry.resolve("t-1")
    global_pack = builder.pack()
    registry.add(global_pack)
    tenant_pack = builder.with_(id="acme", tenant="t-1").pack()
    registry.add(tenant_pack)
    assert registry.resolve("t-1").pack is tenant_pack
    assert registry.resolve("t-2").pack is global_pack
    assert registry.resolve(None).pack is global_pack


def test_versions_are_immutable_and_can_be_rolled_back(builder: Any) -> None:
    registry = PackRegistry()
    v1 = registry.add(builder.pack())
    assert registry.add(builder.pack()) is v1  # identical content: no-op
    changed = builder.category("fraud", action="refuse", keywords=["洗钱"])
    with pytest.raises(PackConflictError, match=r"test@1\.0\.0 is already registered"):
        registry.add(changed.pack())
    v2 = registry.add(changed.with_(version="1.1.0").pack())
    assert registry.resolve(None) is v2
    assert registry.activate("test", "1.0.0") is v1
    assert registry.resolve(None) is v1
    assert registry.get("test", "1.1.0") is v2


def test_add_without_activation_and_unknown_versions(builder: Any) -> None:
    registry = PackRegistry()
    registry.add(builder.pack(), activate=False)
    with pytest.raises(PackNotFoundError):
        registry.resolve(None)
    with pytest.raises(PackNotFoundError, match="test@9 is not registered"):
        registry.activate("test", "9")
    with pytest.raises(PackNotFoundError, match="test@9 is not registered"):
        registry.get("test", "9")
