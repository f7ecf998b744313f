"""ReDoS guard: dangerous regex shapes are refused in packs; the others run under a time budget."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from security.safety.engine import MatchSource, check
from security.safety.regex_guard import (
    MAX_PATTERN_CHARS,
    GuardedRegex,
    RegexBudgetExceeded,
    dangerous_shape,
)
from security.safety.rules import Action, PackValidationError, parse_pack

from .conftest import DEMO_PACK

# Passes the shape check (no nesting, no alternation) but is O(n^4) on a run of "a"s.
POLYNOMIAL = ".*a.*a.*a.*a.*b"


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(a+)+$", "nested quantifiers"),
        ("(a*)*b", "nested quantifiers"),
        (r"(x\d{1,9})+", "nested quantifiers"),
        ("(?:a|b+)*c", "nested quantifiers"),
        ("(a|ab)*c", "branches that can start alike"),
        ("(a|aa)+$", "branches that can start alike"),
        ("(.|x)+y", "branches that can start alike"),
        (r"(a)\1", "backreferences"),
        ("a" * (MAX_PATTERN_CHARS + 1), "longer than"),
    ],
)
def test_dangerous_shapes_are_named(pattern: str, reason: str) -> None:
    problem = dangerous_shape(pattern)
    assert problem is not None and reason in problem


@pytest.mark.parametrize(
    "pattern",
    [
        r"\bsk-[a-z0-9]{20,}\b",
        r"(\d{3}-){2}\d{4}",  # a fixed count repeats nothing variably
        "(ab|cd)+",  # branches start differently
        r"(\w|\d)+",  # the parser folds this into one class
        "(?>a+)+",  # atomic: no backtracking into the group
        "(a++)+",  # possessive
        "(转账|汇款|转钱)到.{0,6}(安全账户|指定账户)",
        POLYNOMIAL,
    ],
)
def test_acceptable_shapes_pass(pattern: str) -> None:
    assert dangerous_shape(pattern) is None


def test_the_demo_pack_passes_the_guard() -> None:
    document = yaml.safe_load(DEMO_PACK.read_text(encoding="utf-8"))
    patterns = [p for category in document["categories"].values() for p in category.get("regexes", [])]
    assert patterns and all(dangerous_shape(p) is None for p in patterns)


def test_a_pack_with_a_catastrophic_regex_is_refused_naming_the_rule(builder: Any) -> None:
    builder.category("fraud", action="refuse", regexes=["safe-[0-9]+", "(a+)+$"])
    with pytest.raises(PackValidationError) as caught:
        builder.pack()
    assert caught.value.errors[0][0] == "categories.fraud.regexes"
    assert "entry [1] '(a+)+$' is refused as a ReDoS risk" in caught.value.errors[0][1]


def test_a_slow_pattern_is_stopped_at_its_budget() -> None:
    guarded = GuardedRegex(POLYNOMIAL, rule="x/regex[0]", budget_s=0.01)
    assert list(guarded.finditer("a.a.a.a.b!")) == [(0, 9)]
    with pytest.raises(RegexBudgetExceeded, match=r"x/regex\[0\] exceeded its 10 ms budget"):
        list(guarded.finditer("a" * 3000))


def test_a_rule_over_budget_fails_closed_to_review(builder: Any) -> None:
    builder.category("fraud", action="mask", priority=10, regexes=[POLYNOMIAL])
    compiled = builder.compiled()
    decision = check("a" * 3000, pack=compiled)
    assert decision.action is Action.REVIEW
    assert decision.category == "fraud"
    (match,) = [m for m in decision.matches if m.source is MatchSource.REGEX]
    assert match.rule == "fraud/regex[0] (time budget exceeded)" and match.span is None
    # The same rule on an ordinary text matches normally, with its own action.
    assert check("a, a, a, a and b", pack=compiled).action is Action.MASK


def test_a_refusing_rule_over_budget_still_refuses(builder: Any) -> None:
    compiled = builder.category("fraud", action="refuse", priority=10, regexes=[POLYNOMIAL]).compiled()
    assert check("a" * 3000, pack=compiled).action is Action.REFUSE


def test_an_exemption_over_budget_is_not_granted(builder: Any) -> None:
    builder.category("news", action="allow", priority=500, regexes=[POLYNOMIAL])
    compiled = builder.compiled()
    text = "a" * 3000 + "炸弹"
    assert check(text, pack=compiled).action is Action.REFUSE


def test_parse_pack_still_accepts_the_demo_pack() -> None:
    assert parse_pack(yaml.safe_load(DEMO_PACK.read_text(encoding="utf-8"))).id


def test_matching_keeps_the_gil() -> None:
    # regex releases the GIL for a match on a str unless told not to; getting it back behind a
    # busy thread cost the gateway's event loop far more than the match itself
    seen: list[object] = []

    class Recording:
        def search(self, text: str, **options: object) -> None:
            seen.append(options.get("concurrent", "released"))

        def finditer(self, text: str, **options: object) -> list[object]:
            seen.append(options.get("concurrent", "released"))
            return []

    guarded = GuardedRegex("x", rule="r")
    object.__setattr__(guarded, "_compiled", Recording())
    guarded.search("text")
    list(guarded.finditer("text"))
    assert seen == [False, False]
