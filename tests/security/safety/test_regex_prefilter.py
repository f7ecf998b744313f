"""The union prefilter and the literal gate of a pack's regexes: never hide a match, only skip rules."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
import regex
from hypothesis import given
from hypothesis import strategies as st

from security.safety.engine import MatchSource, check, scan
from security.safety.packs import CompiledPack
from security.safety.regex_guard import literal_gate, required_literals, union_prefilter
from security.safety.rules import Action, Direction

POLYNOMIAL = ".*a.*a.*a.*a.*b"  # passes the shape check, polynomial on long runs of "a"


@pytest.mark.parametrize(
    ("patterns", "text", "found"),
    [
        (["abc", r"x\d+"], "zz x12 zz", True),
        (["abc", r"x\d+"], "zz abd zz", False),
        (["(?i)abc", "def"], "ABC", True),  # a leading global flag becomes a scoped one
        (["(?i)abc", "def"], "DEF", False),  # ...and does not leak into the other branches
        ([r"\bsk-[a-z0-9]{4}\b", "q"], "key sk-ab12 here", True),
        ([r"\bsk-[a-z0-9]{4}\b", "q"], "key xsk-ab12 here", False),
    ],
)
def test_the_union_matches_where_a_rule_does(patterns: list[str], text: str, found: bool) -> None:
    prefilter = union_prefilter(patterns)
    assert prefilter is not None
    assert prefilter.search(text) is found


@pytest.mark.parametrize("patterns", [["only-one"], ["a(?i)b", "c"], []])
def test_no_prefilter_when_it_cannot_help_or_be_built_safely(patterns: list[str]) -> None:
    assert union_prefilter(patterns) is None


def _labelled_texts(path: Any) -> list[str]:
    return [
        json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def test_scans_are_identical_with_and_without_the_prefilter(
    demo_pack: CompiledPack, demo_labelled_path: Any
) -> None:
    assert demo_pack.regex_prefilter is not None and demo_pack.regex_literals is not None
    unfiltered = dataclasses.replace(demo_pack, regex_prefilter=None, regex_literals=None)
    gate_only = dataclasses.replace(demo_pack, regex_prefilter=None)
    texts = [
        *_labelled_texts(demo_labelled_path),
        "my key is sk-abcdefghijklmnopqrstuvwx ok",
        "how to make a pipe bomb",
        "nothing to see here",
    ]
    regex_hits = 0
    for text in texts:
        for direction in (Direction.INPUT, Direction.OUTPUT):
            with_filter = scan(text, pack=demo_pack, direction=direction)
            without = scan(text, pack=unfiltered, direction=direction)
            assert with_filter == without == scan(text, pack=gate_only, direction=direction), text
            regex_hits += sum(m.source is MatchSource.REGEX for m in with_filter)
    assert regex_hits > 0  # the corpus does exercise the regex rules


def test_a_prefilter_over_budget_runs_every_rule_and_still_fails_closed(builder: Any) -> None:
    builder.category("fraud", action="mask", priority=10, regexes=[POLYNOMIAL, r"zzz\d"])
    compiled = builder.compiled()
    assert compiled.regex_prefilter is not None
    decision = check("a" * 3000, pack=compiled)
    assert decision.action is Action.REVIEW
    assert any(m.rule == "fraud/regex[0] (time budget exceeded)" for m in decision.matches)
    assert check("a, a, a, a and b", pack=compiled).action is Action.MASK
    assert check("plain text", pack=compiled).action is Action.ALLOW


@pytest.mark.parametrize(
    ("pattern", "literals"),
    [
        (r"how (do i|to) (make|build)", {"how "}),
        (r"(转账|汇款|转钱)到.{0,6}(安全账户|指定账户)", {"安全账户", "指定账户"}),  # the longer set wins
        (r"\bsk-[a-z0-9]{20,}\b", {"sk-"}),
        (r"launder(ing)? (the )?money", {"launder"}),
        (r"(ab|cd)+x?", {"ab", "cd"}),
        (r"(?>abc)|de", {"abc", "de"}),
        (r"a(?i:bcd)e", {"a"}),  # the case-insensitive group gives nothing; the literals around it do
    ],
)
def test_required_literals_are_read_off_the_pattern(pattern: str, literals: set[str]) -> None:
    assert required_literals(pattern) == literals


@pytest.mark.parametrize("pattern", ["(?i)abc", "x{0,3}", r"\d+", "(a|)b?", "(?=abc)", "[ab]c?", "(unclosed"])
def test_no_required_literals_when_none_are_certain(pattern: str) -> None:
    assert required_literals(pattern) is None


def test_the_gate_is_the_union_and_gives_up_when_one_rule_has_none() -> None:
    assert set(literal_gate(["abc", "(x|yz)w?"]) or ()) == {"abc", "x", "yz"}
    assert literal_gate(["abc", r"\d+"]) is None


PATTERNS = [
    r"how (do i|to|can i) (make|build) (a |an )?(bomb|explosive)",
    r"(转账|汇款)到.{0,6}(安全账户|指定账户)",
    r"launder(ing)? (the )?money",
    r"\bsk-[a-z0-9]{4,}\b",
    r"(ab|c(d|ef))+g",
    r"x(?:yz){2,}",
]
PIECES = [
    "how ",
    "do i ",
    "to ",
    "make ",
    "build ",
    "a ",
    "an ",
    "bomb",
    "explosive",
    "转账",
    "汇款",
    "到",
    "安全账户",
    "指定账户",
    "launder",
    "ing",
    " the ",
    "money",
    "sk-",
    "ab12",
    "ab",
    "cd",
    "ef",
    "g",
    "x",
    "yz",
    " ",
    "q",
]


@given(st.lists(st.sampled_from(PIECES), max_size=12).map("".join))
def test_wherever_a_rule_matches_one_of_its_literals_occurs(text: str) -> None:
    for pattern in PATTERNS:
        literals = required_literals(pattern)
        assert literals is not None
        if regex.search(pattern, text):
            assert any(literal in text for literal in literals), (pattern, text)
