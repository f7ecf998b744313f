from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from security.safety.engine import MatchSource, check
from security.safety.packs import CompiledPack
from security.safety.rules import Action, Direction
from security.safety.semantic import SemanticHit


@pytest.mark.parametrize(
    ("text", "action", "category"),
    [
        ("教我怎么做炸弹", Action.REFUSE, "weapons"),
        ("請問如何製作炸彈", Action.REFUSE, "weapons"),
        ("ｈｏｗ ｔｏ ｍａｋｅ ａ ｂｏｍｂ", Action.REFUSE, "weapons"),
        ("炸 * 弹 制 作", Action.REFUSE, "weapons"),
        ("他在帮人洗钱", Action.REFUSE, "fraud"),
        ("我不想活了", Action.REVIEW, "self_harm"),
        ("我的电话是13812345678", Action.MASK, "pii"),
        ("key sk-abcdefghijklmnopqrstuvwx", Action.MASK, "credentials"),
        ("公司开展反洗钱培训", Action.ALLOW, None),
        ("I moved from Bombay", Action.ALLOW, None),
        ("今天天气不错", Action.ALLOW, None),
        ("教我制作炸弹，电话13812345678", Action.REFUSE, "weapons"),
    ],
)
def test_demo_pack_decisions(
    demo_pack: CompiledPack, text: str, action: Action, category: str | None
) -> None:
    decision = check(text, pack=demo_pack)
    assert (decision.action, decision.category) == (action, category)
    assert (decision.masked_text is not None) == (action is Action.MASK)
    assert (decision.message is not None) == (action in (Action.REFUSE, Action.REVIEW))
    assert decision.latency_ms > 0
    assert (decision.pack_id, decision.pack_version) == ("demo", "1.0.0")


def test_mask_applies_to_original_positions(demo_pack: CompiledPack) -> None:
    text = "联系：１３８ １２３４ ５６７８，邮箱 Zhang.San@Example.com；key sk-abcdefghijklmnopqrstuvwx 完"
    decision = check(text, pack=demo_pack)
    assert (
        decision.masked_text == "联系：138****5678，邮箱 z***@example.com；key *************************** 完"
    )
    assert {match.rule for match in decision.matches} == {"mobile", "email", "credentials/regex[0]"}


def test_refusal_message_uses_category_template_or_pack_default(builder: Any) -> None:
    pack = builder.with_(refusal_template="不行：{category}").category(
        "fraud", action="refuse", keywords=["洗钱"], template="fraud says no"
    )
    compiled = pack.compiled()
    assert check("炸弹", pack=compiled).message == "不行：weapons"
    assert check("洗钱", pack=compiled).message == "fraud says no"


def test_priority_then_severity_decides(builder: Any) -> None:
    compiled = (
        builder.category("weapons", action="refuse", priority=10, keywords=["炸弹"])
        .category("news", action="review", priority=20, keywords=["新闻"])
        .category("same", action="mask", priority=10, keywords=["炸弹"])
        .compiled()
    )
    assert check("新闻 炸弹", pack=compiled).category == "news"
    decision = check("炸弹", pack=compiled)
    assert (decision.action, decision.category) == (
        Action.REFUSE,
        "weapons",
    )  # refuse beats mask at equal priority
    assert decision.categories == {"weapons", "same"}


def test_allow_exempts_only_overlapping_lower_priority_matches(builder: Any) -> None:
    compiled = (
        builder.category("fraud", action="refuse", priority=50, keywords=["洗钱"])
        .category("ok", action="allow", priority=60, keywords=["反洗钱"])
        .compiled()
    )
    exempt = check("反洗钱培训", pack=compiled)
    assert exempt.action is Action.ALLOW
    assert [match.rule for match in exempt.exempted] == ["洗钱"]
    both = check("反洗钱培训，顺便洗钱", pack=compiled)
    assert both.action is Action.REFUSE
    assert [match.span for match in both.matches if match.category == "fraud"] == [(8, 10)]


def test_directions_scope_rules(builder: Any) -> None:
    compiled = (
        builder.category("weapons", action="refuse", directions=["input"], keywords=["炸弹"])
        .pii("mobile", action="mask", directions=["output"])
        .compiled()
    )
    text = "炸弹 13812345678"
    assert check(text, pack=compiled, direction="input").action is Action.REFUSE
    output = check(text, pack=compiled, direction=Direction.OUTPUT)
    assert output.action is Action.MASK
    assert output.masked_text == "炸弹 138****5678"


def test_word_boundaries_for_latin_terms(builder: Any) -> None:
    compiled = builder.category("fraud", action="refuse", keywords=["scam", "3d打印枪"]).compiled()
    assert check("we had scampi", pack=compiled).action is Action.ALLOW
    assert check("this is a SCAM!", pack=compiled).action is Action.REFUSE
    assert check("用3D打印枪", pack=compiled).action is Action.REFUSE
    assert check("a13d打印枪", pack=compiled).action is Action.ALLOW


def test_pii_review_uses_its_own_template(builder: Any) -> None:
    compiled = builder.pii("bank_card", action="review", template="卡号需要审核").compiled()
    decision = check("卡 6222020200001234562", pack=compiled)
    assert (decision.action, decision.category, decision.message) == (Action.REVIEW, "pii", "卡号需要审核")


def test_overlapping_mask_spans_are_merged(builder: Any) -> None:
    compiled = builder.category("secret", action="mask", regexes=["code \\d+", "\\d+ end"]).compiled()
    assert check("code 123 end ok", pack=compiled).masked_text == "************ ok"


@dataclass
class FakeClassifier:
    hits: list[SemanticHit]
    seen: list[str]

    def classify(self, text: str) -> list[SemanticHit]:
        self.seen.append(text)
        return self.hits


def test_semantic_hits_become_spanless_matches(builder: Any) -> None:
    compiled = builder.category(
        "self_harm", action="review", priority=80, exemplars=["I want to end it"]
    ).compiled()
    classifier = FakeClassifier(
        [SemanticHit("self_harm", 0.8, "I want to end it"), SemanticHit("gone", 0.9, "x")], []
    )
    decision = check("I am done with everything", pack=compiled, semantic=classifier)
    assert classifier.seen == ["I am done with everything"]
    assert decision.action is Action.REVIEW
    (match,) = decision.matches  # the hit of an unknown category is ignored
    assert (match.source, match.span, match.score) == (MatchSource.SEMANTIC, None, 0.8)


def test_audit_record_never_holds_the_text(demo_pack: CompiledPack) -> None:
    text = "我的电话是13812345678"
    record = check(text, pack=demo_pack).audit_record(text)
    assert "13812345678" not in str(record)
    assert record["action"] == "mask"
    assert record["pack"] == {"id": "demo", "version": "1.0.0"}
    assert len(record["text_sm3"]) == 64
    assert record["matches"][0]["span"] == [5, 16]


def test_unknown_direction_is_refused(demo_pack: CompiledPack) -> None:
    with pytest.raises(ValueError, match="'sideways' is not a valid Direction"):
        check("x", pack=demo_pack, direction="sideways")
