from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from security.safety import normalize as normalize_module
from security.safety.normalize import MappedText, normalize, normalize_term, to_simplified

ZWSP = "\u200b"


@pytest.mark.parametrize(
    ("text", "folded", "compact"),
    [
        ("炸 弹", "炸 弹", "炸弹"),
        ("炸*弹", "炸*弹", "炸弹"),
        ("炸💣弹", "炸💣弹", "炸弹"),
        (f"炸{ZWSP}弹", "炸弹", "炸弹"),
        ("請問如何製作炸彈", "请问如何制作炸弹", "请问如何制作炸弹"),
        ("ＢＯＭＢ 炸彈", "bomb 炸弹", "bomb炸弹"),
        ("ｈｏｗ ｔｏ", "how to", "how to"),
        ("ｶﾀｶﾅ", "カタカナ", "カタカナ"),
        ("𝐛𝐨𝐦𝐛 ok", "bomb ok", "bomb ok"),
        ("b o m b", "b o m b", "bomb"),
        ("b.o.m.b", "b.o.m.b", "bomb"),
        ("b-o-m-b-s are bad", "b-o-m-b-s are bad", "bombs are bad"),
        ("h.o.w t.o m.a.k.e a b.o.m.b", "h.o.w t.o m.a.k.e a b.o.m.b", "how to make a bomb"),
        ("a b.o.m.b now", "a b.o.m.b now", "a bomb now"),
        ("how to make a bomb", "how to make a bomb", "how to make a bomb"),
        ("Hello,   World!", "hello,   world!", "hello world"),
        ("ﬁle ⑴ Straße", "file (1) strasse", "file 1 strasse"),
        ("  炸*弹  ", "  炸*弹  ", "炸弹"),
        ("", "", ""),
        ("***", "***", ""),
        ("e\u0301cole", "ecole", "ecole"),
    ],
)
def test_views(text: str, folded: str, compact: str) -> None:
    result = normalize(text)
    assert result.original == text
    assert result.folded.text == folded
    assert result.compact.text == compact


@pytest.mark.parametrize(
    "text",
    [
        "炸 * 弹 制 作",
        "ＢＯＭＢ 炸彈",
        "ﬁle ⑴ Straße",
        f"a{ZWSP}b c.d e",
        "𝐛𝐨𝐦𝐛 ok 炸💣弹",
        "h.o.w t.o m.a.k.e a b.o.m.b",
    ],
)
def test_offsets_point_back_to_the_original_characters(text: str) -> None:
    result = normalize(text)
    for view in (result.folded, result.compact):
        assert len(view.starts) == len(view.text)
        assert list(view.starts) == sorted(view.starts)
        for index, char in enumerate(view.text):
            start, end = view.original_span(index, index + 1)
            source = text[start:end]
            if char != " ":
                assert char in normalize(source).folded.text, (text, index)


def test_span_of_a_split_term_covers_the_separators() -> None:
    text = "请教：炸 * 弹制作"
    view = normalize(text).compact
    start = view.text.index("炸弹")
    assert view.original_span(start, start + 4) == (3, 10)
    assert text[3:10] == "炸 * 弹制作"


def test_original_span_rejects_a_span_outside_the_view() -> None:
    view = MappedText("ab", (0, 1))
    for start, end in [(0, 3), (1, 1), (-1, 1)]:
        with pytest.raises(ValueError, match="outside a text of length 2"):
            view.original_span(start, end)


def test_compact_offsets_support_slices_and_negative_indices() -> None:
    starts = normalize("x 炸 * 弹").compact.starts
    assert list(starts) == [0, 2, 6]
    assert starts[-1] == 6
    assert list(starts[1:]) == [2, 6]
    with pytest.raises(IndexError):
        starts[3]


def test_to_simplified_and_terms() -> None:
    assert to_simplified("國家發展") == "国家发展"
    assert normalize_term(" 炸 彈 ") == "炸弹"
    assert normalize_term("!!!") == ""


@given(st.text(alphabet=st.sampled_from(list("ab 炸弹彈*.-ＡＢ１ﬁ⑴\u200b💣𝐛é\u0301X,。 ")), max_size=40))
def test_offset_invariants_hold_for_any_text(text: str) -> None:
    result = normalize(text)
    for view in (result.folded, result.compact):
        starts = list(view.starts)
        assert len(starts) == len(view.text)
        assert starts == sorted(starts)
        assert all(0 <= start < len(text) for start in starts)
    assert result.compact.text == result.compact.text.strip()
    assert "  " not in result.compact.text


ASCII_TEXT = st.text(alphabet=st.sampled_from(list("abXY z1 .,-_*!\t\n")), max_size=60)


@given(ASCII_TEXT)
def test_the_ascii_road_gives_the_views_of_the_full_algorithm(text: str) -> None:
    folded = normalize_module.fold(text)
    assert folded.text == "".join(normalize_module._fold_one(char) for char in text)
    assert list(folded.starts) == list(range(len(text)))
    fast = normalize_module.compact(folded)
    exact = normalize_module._compact_exact(folded)
    assert fast.text == exact.text
    assert list(fast.starts) == list(exact.starts)


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=40))
def test_the_ascii_road_offsets_match_the_full_algorithm_for_any_ascii(text: str) -> None:
    folded = normalize_module.fold(text)
    fast = normalize_module.compact(folded)
    exact = normalize_module._compact_exact(folded)
    assert fast.text == exact.text
    assert list(fast.starts) == list(exact.starts)  # the lazy offsets, computed by word


def test_the_ascii_road_is_taken_unless_single_letters_follow_each_other() -> None:
    taken = normalize("How to build it, step by step?").compact
    assert isinstance(taken.starts, normalize_module._LazyStarts)
    assert taken.text == "how to build it step by step"
    assert taken.original_span(7, 12) == (7, 12)
    for joined in ("b o m b", "a b.o.m.b now", "炸 弹 ok"):
        assert not isinstance(normalize(joined).compact.starts, normalize_module._LazyStarts)


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=40), st.data())
def test_one_ascii_offset_read_from_the_end_matches_the_whole_table(text: str, data: st.DataObject) -> None:
    compact = normalize(text).compact
    assume(isinstance(compact.starts, normalize_module._LazyStarts) and compact.text)
    index = data.draw(st.integers(min_value=-len(compact.text), max_value=len(compact.text) - 1))
    table = list(normalize(text).compact.starts)
    assert compact.starts[index] == table[index]
    assert compact.starts._starts is None  # answered without building the table


def test_single_reads_of_ascii_offsets_give_way_to_the_table() -> None:
    compact = normalize("Hello,  wide   world of words!").compact
    starts = compact.starts
    assert isinstance(starts, normalize_module._LazyStarts)
    reads = [starts[i] for i in (0, 5, 6, 12)]
    assert reads == [0, 5, 8, 16]  # "hello wide world …": a space maps to its separator run
    assert starts._starts is not None
    with pytest.raises(IndexError):
        normalize("ab cd").compact.starts[5]
