"""The union prefilter of a pack's regexes: never hides a match, only skips rules when nothing matches."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from security.safety.engine import MatchSource, check, scan
from security.safety.packs import CompiledPack
from security.safety.regex_guard import union_prefilter
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
    assert demo_pack.regex_prefilter is not None
    unfiltered = dataclasses.replace(demo_pack, regex_prefilter=None)
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
            assert with_filter == without, text
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
