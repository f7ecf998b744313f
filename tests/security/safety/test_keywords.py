from __future__ import annotations

import pytest

from security.safety.keywords import BACKENDS, DEFAULT_BACKEND, KeywordMatcher, build_matcher

TERMS = ["炸弹", "弹药", "炸弹制作", "bomb", "he", "she", "hers"]


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_every_backend_honours_the_protocol(backend: str) -> None:
    matcher: KeywordMatcher = build_matcher(TERMS, backend=backend)
    assert matcher.backend == backend


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x炸弹药", {(0, 1, 3), (1, 2, 4)}),
        ("炸弹制作", {(0, 0, 2), (2, 0, 4)}),
        ("ushers", {(4, 2, 4), (5, 1, 4), (6, 2, 6)}),
        ("xyz", set()),
        ("", set()),
        ("bombbomb", {(3, 0, 4), (3, 4, 8)}),
    ],
)
def test_backends_find_every_overlapping_occurrence(
    backend: str, text: str, expected: set[tuple[int, int, int]]
) -> None:
    found = build_matcher(TERMS, backend=backend).find(text)
    assert set(found) == expected
    for index, start, end in found:
        assert text[start:end] == TERMS[index]


def test_backends_agree_on_a_large_random_case() -> None:
    import random

    rng = random.Random(7)
    terms = sorted(
        {"".join(chr(rng.randint(0x4E00, 0x4E40)) for _ in range(rng.randint(1, 3))) for _ in range(300)}
    )
    text = "".join(chr(rng.randint(0x4E00, 0x4E40)) for _ in range(2000))
    results = {backend: sorted(build_matcher(terms, backend=backend).find(text)) for backend in BACKENDS}
    first = results[DEFAULT_BACKEND]
    assert first
    assert all(result == first for result in results.values())


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_no_terms_matches_nothing(backend: str) -> None:
    assert build_matcher([], backend=backend).find("anything") == []


@pytest.mark.parametrize(
    ("terms", "backend", "message"),
    [
        (["a"], "nope", "unknown keyword backend 'nope'"),
        (["a", ""], DEFAULT_BACKEND, "keyword term #1 is empty"),
        (["a", "a"], DEFAULT_BACKEND, "keyword term 'a' is listed twice"),
    ],
)
def test_bad_input_is_named(terms: list[str], backend: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_matcher(terms, backend=backend)
