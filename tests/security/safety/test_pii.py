from __future__ import annotations

from datetime import date

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from security.safety.normalize import fold, normalize
from security.safety.pii import (
    DETECTORS,
    PiiKind,
    cannot_hold_pii,
    china_id_checksum_ok,
    china_id_valid,
    detect,
    detect_bank_card,
    detect_china_id,
    detect_email,
    detect_mobile,
    luhn_valid,
    numeric_regions,
)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("11010519491231002X", True),
        ("11010519491231002x", True),
        ("440305199203150414", True),
        ("110105194912310021", False),  # wrong check digit
        ("99010519491231002X", False),  # no such province
        ("110105194902300025", False),  # 30 February
        ("11010518991231002X", False),  # before 1900
        ("1101051949123100", False),  # too short
    ],
)
def test_resident_id_validation(value: str, valid: bool) -> None:
    assert china_id_valid(value) is valid


def test_resident_id_in_the_future_is_invalid() -> None:
    assert china_id_checksum_ok("440305199203150414")
    assert not china_id_valid("440305199203150414", today=date(1990, 1, 1))


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("4111111111111111", True),
        ("6222020200001234562", True),
        ("6222020200001234563", False),
        ("12a4", False),
    ],
)
def test_luhn(digits: str, valid: bool) -> None:
    assert luhn_valid(digits) is valid


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("电话13812345678。", ["13812345678"]),
        ("+86 138-1234-5678", ["13812345678"]),
        ("0086 139 0000 1234", ["13900001234"]),
        ("8613812345678", ["13812345678"]),
        ("12812345678", []),  # 12x is not a mobile prefix
        ("138123456789", []),  # 12 digits
        ("订单11381234567890", []),  # inside a longer number
    ],
)
def test_mobile(text: str, values: list[str]) -> None:
    assert [span.value for span in detect_mobile(text)] == values


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("卡 6222 0202 0000 1234 562,", ["6222020200001234562"]),
        ("card 4111-1111-1111-1111 ok", ["4111111111111111"]),
        ("6258070000123456785", ["6258070000123456785"]),
        ("6222020200001234563", []),  # fails Luhn
        ("4111 1111 1111", []),  # 12 digits
    ],
)
def test_bank_card(text: str, values: list[str]) -> None:
    assert [span.value for span in detect_bank_card(text)] == values


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("mail Zhang.San@Example.com now", ["zhang.san@example.com"]),
        ("a+tag@mail.example.cn", ["a+tag@mail.example.cn"]),
        ("no at sign here", []),
        ("user@localhost", []),
    ],
)
def test_email(text: str, values: list[str]) -> None:
    assert [span.value for span in detect_email(text)] == values


def test_id_spans_and_separators() -> None:
    text = "身份证 110105 19491231 002X 已登记"
    (span,) = detect_china_id(text)
    assert span.value == "11010519491231002X"
    assert text[span.start : span.end] == "110105 19491231 002X"


def test_detect_ranks_overlaps_and_sorts() -> None:
    text = "邮箱a@b.cn 身份证11010519491231002X 手机8613812345678 卡6222020200001234562"
    spans = detect(text)
    assert [span.kind for span in spans] == [
        PiiKind.EMAIL,
        PiiKind.CHINA_ID,
        PiiKind.MOBILE,
        PiiKind.BANK_CARD,
    ]
    # 8613812345678 also passes Luhn: the mobile detector outranks the card detector,
    # and only when mobiles are not asked for is it reported as a card
    assert all(span.value != "8613812345678" for span in spans)
    cards = [span.value for span in detect(text, [PiiKind.BANK_CARD])]
    assert cards == ["8613812345678", "6222020200001234562"]


def test_detectors_limited_to_regions_agree_with_whole_text_scan() -> None:
    text = "x 11010519491231002X y +86 138-1234-5678 z 4111 1111 1111 1111 w 12345"
    regions = numeric_regions(text)
    for kind, detector in DETECTORS.items():
        assert detector(text, regions) == detector(text, None), kind


def test_full_width_pii_is_found_on_the_folded_view() -> None:
    folded = normalize("电话１３７ ００００ ５６７８，邮箱ｌｉｓｉ＠ｅｘａｍｐｌｅ．ｃｎ").folded.text
    assert [span.kind for span in detect(folded)] == [PiiKind.MOBILE, PiiKind.EMAIL]


PII_LIKE_ASCII = st.text(alphabet=st.sampled_from(list("0123456789 -+xX@.abcz_")), max_size=40)


@given(st.one_of(PII_LIKE_ASCII, st.text(alphabet=st.characters(max_codepoint=127), max_size=30)))
def test_a_text_said_to_hold_no_pii_has_none_in_any_view(text: str) -> None:
    assume(cannot_hold_pii(text))
    assert detect(text) == []
    assert detect(fold(text).text) == []


@pytest.mark.parametrize(
    ("text", "cannot"),
    [
        ("bench-model", True),
        ("user", True),
        ("8", True),
        ("call 138 1234 5678", False),  # a digit run a numeric detector reads
        ("li.si@example.cn", False),
        ("１３８１２３４５６７８", False),  # not ASCII: full-width digits fold to a mobile number
        ("mail me ＠ home", False),
    ],
)
def test_cannot_hold_pii_only_for_plain_ascii(text: str, cannot: bool) -> None:
    assert cannot_hold_pii(text) is cannot
