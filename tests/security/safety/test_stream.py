from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from security.safety.engine import StreamChecker, StreamClosedError, StreamStep, check
from security.safety.packs import CompiledPack
from security.safety.rules import Action, Direction


def _run(checker: StreamChecker, chunks: list[str]) -> tuple[str, list[StreamStep]]:
    steps = []
    for chunk in chunks:
        step = checker.feed(chunk)
        steps.append(step)
        if step.stopped:
            return "".join(s.text for s in steps), steps
    steps.append(checker.finish())
    return "".join(s.text for s in steps), steps


@pytest.mark.parametrize(("step", "chunks_per_release"), [(1, 1), (7, 1), (8, 2), (16, 3), (64, 10)])
def test_benign_stream_passes_through_unchanged_and_progressively(
    demo_pack: CompiledPack, step: int, chunks_per_release: int
) -> None:
    text = "今天天气不错，我们去公园散步吧。" * 20
    chunks = [text[i : i + 7] for i in range(0, len(text), 7)]
    checker = StreamChecker(pack=demo_pack, step=step)
    out, steps = _run(checker, chunks)
    assert out == text
    releases = [index for index, result in enumerate(steps[:-1]) if result.text]
    assert len(releases) >= len(chunks) // chunks_per_release - 6  # not all held to the end
    assert all(b - a == chunks_per_release for a, b in itertools.pairwise(releases))  # one every `step` chars
    final = steps[-1].decision
    assert final is not None and final.action is Action.ALLOW


def test_step_must_be_at_least_one_character(demo_pack: CompiledPack) -> None:
    with pytest.raises(ValueError, match="step must be at least 1"):
        StreamChecker(pack=demo_pack, step=0)


@pytest.mark.parametrize(
    "chunks",
    [
        ["好的，下面是炸弹制", "作的步骤"],
        ["好的，下面是炸", " * ", "弹制作的步骤"],
        ["好的，", "下面是", "炸彈", "製作", "的步骤"],
    ],
)
@pytest.mark.parametrize("step", [1, 16])
def test_term_split_across_chunks_stops_the_stream_before_it_is_emitted(
    demo_pack: CompiledPack, chunks: list[str], step: int
) -> None:
    checker = StreamChecker(pack=demo_pack, step=step)
    out, steps = _run(checker, chunks)
    assert steps[-1].stopped
    decision = steps[-1].decision
    assert decision is not None and decision.action is Action.REFUSE and decision.category == "weapons"
    assert decision.message
    assert "炸" not in out and "製" not in out
    with pytest.raises(StreamClosedError):
        checker.feed("more")
    with pytest.raises(StreamClosedError):
        checker.finish()


def test_pii_split_across_chunks_is_masked(demo_pack: CompiledPack) -> None:
    text = (
        "请联系我，电话 138-1234-5678，谢谢。"
        "后面还有一段很长的正常内容，用来推动窗口向前移动，确保文本陆续输出。"
    )
    chunks = [text[i : i + 3] for i in range(0, len(text), 3)]
    out, steps = _run(StreamChecker(pack=demo_pack), chunks)
    assert out == text.replace("138-1234-5678", "138****5678")
    final = steps[-1].decision
    assert final is not None and final.action is Action.MASK
    (match,) = final.matches
    assert text[match.span[0] : match.span[1]] == "138-1234-5678"  # type: ignore[index]


def test_latin_term_is_not_refused_before_its_word_ends(builder: Any) -> None:
    compiled = (
        builder.category("weapons", action="refuse", keywords=["bomb"]).with_(stream_window=0).compiled()
    )
    out, steps = _run(StreamChecker(pack=compiled), ["I lived in Bomb", "ay for years"])
    assert out == "I lived in Bombay for years"
    _, steps = _run(StreamChecker(pack=compiled), ["a bomb", " now"])
    assert steps[-1].stopped


def test_review_stops_the_stream_with_the_review_message(demo_pack: CompiledPack) -> None:
    checker = StreamChecker(pack=demo_pack, direction="input")  # type: ignore[arg-type]
    assert checker.direction is Direction.INPUT
    _, steps = _run(checker, ["我真的不想", "活了"])
    decision = steps[-1].decision
    assert steps[-1].stopped and decision is not None and decision.action is Action.REVIEW


def test_exemption_is_kept_across_chunks(demo_pack: CompiledPack) -> None:
    out, steps = _run(StreamChecker(pack=demo_pack), ["公司开展反", "洗钱培训"])
    assert out == "公司开展反洗钱培训"
    final = steps[-1].decision
    assert final is not None and [match.rule for match in final.exempted] == ["洗钱"]


BENIGN_WITH_PII = [
    "联系我：138-1234-5678，或者邮件 li.si@example.cn。其余内容都是正常的文字。",
    "身份证11010519491231002X，卡号 6222 0202 0000 1234 562，谢谢配合。",
    "The weather is nice today and the model answered quickly, call 13900001234 later.",
]


@settings(max_examples=60, deadline=None)
@given(
    text=st.sampled_from(BENIGN_WITH_PII),
    cuts=st.lists(st.integers(min_value=1, max_value=80), max_size=12),
    step=st.integers(min_value=1, max_value=48),
)
def test_any_chunking_and_step_give_the_same_output_as_a_whole_text_check(
    demo_pack: CompiledPack, text: str, cuts: list[int], step: int
) -> None:
    positions = sorted({cut for cut in cuts if cut < len(text)})
    chunks = [text[a:b] for a, b in zip([0, *positions], [*positions, len(text)], strict=True)]
    out, steps = _run(StreamChecker(pack=demo_pack, step=step), chunks)
    whole = check(text, pack=demo_pack)
    assert not steps[-1].stopped
    assert out == (whole.masked_text if whole.masked_text is not None else text)
    final = steps[-1].decision
    assert final is not None
    assert sorted(str(m.span) for m in final.matches) == sorted(str(m.span) for m in whole.matches)
