"""Detectors for personal information: China resident ID, mainland mobile, bank card, e-mail.

Each detector scans a text (normally the *folded* view from
:mod:`security.safety.normalize`, so full-width digits and ``＠`` are already ASCII) and
returns :class:`PiiSpan` objects carrying the kind, the half-open offsets and the canonical
value (digits only for numbers, ``X`` upper-cased, e-mail lower-cased). Candidates are
validated, not just pattern-matched:

* resident ID (GB 11643-1999): 18 characters, a known province code, a real birth date not
  in the future, and the ISO 7064 MOD 11-2 check character;
* mobile: ``1[3-9]`` + 9 digits, optionally after ``+86``/``0086``/``86`` and with space or
  hyphen separators in the 3-4-4 grouping;
* bank card: 13–19 digits, contiguous or in groups of four, passing the Luhn check;
* e-mail: a dotted domain with an alphabetic top-level label.

:func:`detect` runs them all and drops lower-ranked spans that overlap a higher-ranked one
(ID > mobile > bank card > e-mail), so an 18-digit ID or an ``86``-prefixed mobile that happens
to pass Luhn is not also reported as a card. :mod:`security.masking` reuses these detectors.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class PiiKind(StrEnum):
    """The kinds of personal information the detectors know."""

    CHINA_ID = "china_id"
    MOBILE = "mobile"
    BANK_CARD = "bank_card"
    EMAIL = "email"


@dataclass(frozen=True, slots=True)
class PiiSpan:
    """One detected item: ``text[start:end]`` is the match, ``value`` its canonical form."""

    kind: PiiKind
    start: int
    end: int
    value: str


# GB/T 2260 province-level codes (first two digits of a resident ID).
_PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83, 91}
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

_ID_RE = re.compile(r"(?<![0-9a-z])(\d{6})[ -]?(\d{8})[ -]?(\d{3}[0-9xX])(?![0-9a-z])", re.IGNORECASE)
_MOBILE_RE = re.compile(r"(?<![\d+])(?:(?:\+|00)?86[ -]?)?(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})(?!\d)")
_CARD_RE = re.compile(r"(?<![\d-])(?:\d{13,19}|\d{4}(?:([ -])\d{4}){2,3}(?:\1\d{1,3})?)(?![\d-])")
_EMAIL_RE = re.compile(
    r"(?<![a-z0-9._%+-])[a-z0-9][a-z0-9._%+-]{0,63}@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}"
    r"(?![a-z0-9-])",
    re.IGNORECASE,
)
_DIGITS_ONLY = re.compile(r"\D")


def china_id_checksum_ok(value: str) -> bool:
    """Whether the 18-character ``value`` carries the right GB 11643 check character."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    total = sum(int(digit) * weight for digit, weight in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[17].upper()


def china_id_valid(value: str, *, today: date | None = None) -> bool:
    """Whether ``value`` is a well-formed resident ID: province, birth date and checksum."""
    if not china_id_checksum_ok(value) or int(value[:2]) not in _PROVINCES:
        return False
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= (today or date.today())


def luhn_valid(digits: str) -> bool:
    """Whether the digit string passes the Luhn (mod 10) check."""
    if not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


# A maximal run of digits, spaces and hyphens (optionally after "+", optionally ending in
# an ID's check letter): every numeric item lies inside one, so the detailed patterns only
# run there instead of at every position of the text.
_NUMERIC_REGION = re.compile(r"[+\d][\d -]{9,}\d[xX]?")
_MIN_NUMERIC_DIGITS = 11
Regions = list[tuple[int, int]]


def numeric_regions(text: str) -> Regions:
    """``(start, end)`` of the runs of ``text`` that may hold an ID, mobile or card number."""
    regions = []
    for match in _NUMERIC_REGION.finditer(text):
        if sum(ch.isdigit() for ch in match.group()) >= _MIN_NUMERIC_DIGITS:
            # one more character so the patterns' look-ahead sees what follows the run
            regions.append((match.start(), min(match.end() + 1, len(text))))
    return regions


def _finditer(pattern: re.Pattern[str], text: str, regions: Regions | None) -> Iterator[re.Match[str]]:
    if regions is None:
        yield from pattern.finditer(text)
        return
    for start, end in regions:
        yield from pattern.finditer(text, start, end)


def detect_china_id(text: str, regions: Regions | None = None) -> list[PiiSpan]:
    """Resident IDs in ``text`` that pass :func:`china_id_valid` (only inside ``regions`` if given)."""
    spans = []
    for match in _finditer(_ID_RE, text, regions):
        value = "".join(match.groups()).upper()
        if china_id_valid(value):
            spans.append(PiiSpan(PiiKind.CHINA_ID, match.start(), match.end(), value))
    return spans


def detect_mobile(text: str, regions: Regions | None = None) -> list[PiiSpan]:
    """Mainland mobile numbers in ``text``; ``value`` is the 11-digit national number."""
    return [
        PiiSpan(PiiKind.MOBILE, match.start(), match.end(), "".join(match.groups()))
        for match in _finditer(_MOBILE_RE, text, regions)
    ]


def detect_bank_card(text: str, regions: Regions | None = None) -> list[PiiSpan]:
    """Card numbers (13–19 digits, Luhn-valid) in ``text``; ``value`` is the bare digits."""
    spans = []
    for match in _finditer(_CARD_RE, text, regions):
        digits = _DIGITS_ONLY.sub("", match.group(0))
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            spans.append(PiiSpan(PiiKind.BANK_CARD, match.start(), match.end(), digits))
    return spans


def detect_email(text: str, regions: Regions | None = None) -> list[PiiSpan]:
    """E-mail addresses in ``text``; ``value`` is the address lower-cased (``regions`` is unused)."""
    if "@" not in text:
        return []
    return [
        PiiSpan(PiiKind.EMAIL, match.start(), match.end(), match.group(0).lower())
        for match in _EMAIL_RE.finditer(text)
    ]


DETECTORS: dict[PiiKind, Callable[[str, Regions | None], list[PiiSpan]]] = {
    PiiKind.CHINA_ID: detect_china_id,
    PiiKind.MOBILE: detect_mobile,
    PiiKind.BANK_CARD: detect_bank_card,
    PiiKind.EMAIL: detect_email,
}
"""Every detector, in rank order: earlier kinds win overlaps in :func:`detect`."""

_ALL_KINDS = frozenset(DETECTORS)
_NUMERIC_KINDS = _ALL_KINDS - {PiiKind.EMAIL}


def cannot_hold_pii(text: str) -> bool:
    """Whether no detector can find anything in ``text`` or in its folded view, decided cheaply.

    True only for ASCII text with no ``@`` and no digit run a numeric detector could use. Such a
    text folds to its lower case, which changes no digit and no ``@`` (and the ID pattern's check
    letter matches either case), so :func:`detect` finds nothing in either view. False means "look"
    (most such texts hold no PII either).
    """
    return text.isascii() and "@" not in text and _NUMERIC_REGION.search(text) is None


def detect(text: str, kinds: Iterable[PiiKind] | None = None) -> list[PiiSpan]:
    """Run the detectors for ``kinds`` (all by default); non-overlapping spans sorted by start."""
    if kinds is None:
        wanted: frozenset[PiiKind] | set[PiiKind] = _ALL_KINDS
    elif isinstance(kinds, frozenset):
        wanted = kinds if kinds <= _ALL_KINDS else {PiiKind(kind) for kind in kinds}
    else:
        wanted = {kind if kind in DETECTORS else PiiKind(kind) for kind in kinds}
    regions = numeric_regions(text) if not wanted.isdisjoint(_NUMERIC_KINDS) else []
    if not regions and "@" not in text:
        return []  # every numeric kind lies inside a region, and an e-mail address needs an "@"
    kept: list[PiiSpan] = []
    for kind, detector in DETECTORS.items():
        if kind not in wanted:
            continue
        for span in detector(text, regions):
            if all(span.end <= other.start or span.start >= other.end for other in kept):
                kept.append(span)
    return sorted(kept, key=lambda span: span.start)
