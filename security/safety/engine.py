"""The content-safety decision: :func:`check` for whole texts, :class:`StreamChecker` for streams.

Stages, in order, each optional by pack content:

1. normalise (:mod:`security.safety.normalize`);
2. keywords on the compact view; a term that begins/ends with an ASCII letter or digit only
   matches at a word boundary (``scam`` does not fire inside ``scampi``);
3. regexes on the folded view, each under a time budget: a rule that exceeds it fails closed
   (its category, at least ``review``, for the whole text; see :mod:`security.safety.regex_guard`);
4. PII detectors on the folded view, for the kinds the pack configures;
5. the semantic classifier, when one is passed (whole-text hits, no span).

Then ``allow`` matches exempt the lower-priority matches they overlap, and the remaining match
with the highest ``(priority, severity)`` decides: ``refuse`` (message from the category
template or the pack's ``refusal_template``), ``review`` (``review_template``), ``mask``
(every ``mask`` match is replaced in the original text: PII by
:func:`security.masking.strategies.mask`, other spans by ``*``), else ``allow``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from security.crypto.sm3 import sm3_hex
from security.masking.strategies import mask as mask_pii
from security.safety.normalize import Normalized, normalize
from security.safety.packs import CompiledPack
from security.safety.pii import PiiKind, detect
from security.safety.regex_guard import RegexBudgetExceeded
from security.safety.rules import ACTION_SEVERITY, Action, Direction

if TYPE_CHECKING:
    from security.safety.semantic import SemanticClassifier


class MatchSource(StrEnum):
    """Which stage produced a match."""

    KEYWORD = "keyword"
    REGEX = "regex"
    PII = "pii"
    SEMANTIC = "semantic"


@dataclass(frozen=True, slots=True)
class Match:
    """One rule that fired. ``span`` is in original-text offsets (``None`` for semantic hits).

    ``rule`` names the rule: the keyword as written in the pack, the regex rule id, the PII
    kind, or ``semantic``. ``replacement`` is the masked form of a PII value (never the value).
    """

    category: str
    action: Action
    priority: int
    source: MatchSource
    rule: str
    span: tuple[int, int] | None
    score: float | None = None
    replacement: str | None = None

    def shifted(self, offset: int) -> Match:
        """The same match with its span moved by ``offset`` (clipped at 0)."""
        if self.span is None:
            return self
        start, end = self.span
        return Match(
            self.category,
            self.action,
            self.priority,
            self.source,
            self.rule,
            (max(start + offset, 0), end + offset),
            self.score,
            self.replacement,
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "category": self.category,
            "action": self.action.value,
            "priority": self.priority,
            "source": self.source.value,
            "rule": self.rule,
            "span": list(self.span) if self.span else None,
            "score": self.score,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of a check.

    ``action`` is what the caller must do; ``category`` the deciding category (``None`` when
    allowed with no match); ``matches`` the matches that count, ``exempted`` those an
    ``allow`` match suppressed. ``masked_text`` is set when ``action`` is ``mask``;
    ``message`` when it is ``refuse`` or ``review``.
    """

    action: Action
    category: str | None
    matches: tuple[Match, ...]
    exempted: tuple[Match, ...]
    masked_text: str | None
    message: str | None
    pack_id: str
    pack_version: str
    direction: Direction
    latency_ms: float

    @property
    def categories(self) -> frozenset[str]:
        """Categories of every non-allow match (what the text was flagged for)."""
        return frozenset(match.category for match in self.matches if match.action is not Action.ALLOW)

    def audit_record(self, text: str) -> dict[str, Any]:
        """Facts to audit: the decision and rule ids, the SM3 of the text, never the text itself."""
        return {
            "action": self.action.value,
            "category": self.category,
            "categories": sorted(self.categories),
            "pack": {"id": self.pack_id, "version": self.pack_version},
            "direction": self.direction.value,
            "text_sm3": sm3_hex(text.encode()),
            "text_length": len(text),
            "matches": [match.as_dict() for match in self.matches],
            "exempted": [match.as_dict() for match in self.exempted],
            "latency_ms": round(self.latency_ms, 4),
        }


def _keyword_matches(norm: Normalized, pack: CompiledPack, direction: Direction) -> Iterable[Match]:
    compact = norm.compact
    text = compact.text
    for term_index, start, end in pack.matcher.find(text):
        term = pack.terms[term_index]
        if term.left_boundary and start > 0 and text[start - 1].isascii() and text[start - 1].isalnum():
            continue
        if term.right_boundary and end < len(text) and text[end].isascii() and text[end].isalnum():
            continue
        span = compact.original_span(start, end)
        for name, written in term.categories:
            category = pack.pack.categories[name]
            if direction in category.directions:
                yield Match(name, category.action, category.priority, MatchSource.KEYWORD, written, span)


def _contains_any(text: str, literals: tuple[str, ...]) -> bool:
    for literal in literals:  # noqa: SIM110 - any() over a generator costs more than the searches
        if literal in text:
            return True
    return False


def _regex_matches(norm: Normalized, pack: CompiledPack, direction: Direction) -> Iterable[Match]:
    folded = norm.folded
    literals = pack.regex_literals
    if literals is not None and not _contains_any(folded.text, literals):
        return  # every rule needs one of these strings somewhere
    prefilter = pack.regex_prefilter
    if prefilter is not None:
        try:
            if not prefilter.search(folded.text):
                return  # no rule matches anywhere
        except RegexBudgetExceeded:
            pass  # undecided: every rule runs under its own budget (and fails closed on its own)
    for rule in pack.regexes:
        category = pack.pack.categories[rule.category]
        if direction not in category.directions:
            continue
        try:
            spans = list(rule.pattern.finditer(folded.text))
        except RegexBudgetExceeded:
            # Fail closed: a rule that could not finish may have matched. An exemption (allow) is
            # not granted; any other category goes at least to human review, for the whole text.
            if category.action is not Action.ALLOW:
                action = max(category.action, Action.REVIEW, key=ACTION_SEVERITY.__getitem__)
                rule_name = f"{rule.rule_id} (time budget exceeded)"
                yield Match(rule.category, action, category.priority, MatchSource.REGEX, rule_name, None)
            continue
        for start, end in spans:
            if end > start:
                span = folded.original_span(start, end)
                yield Match(
                    rule.category, category.action, category.priority, MatchSource.REGEX, rule.rule_id, span
                )


def _pii_matches(norm: Normalized, pack: CompiledPack, direction: Direction) -> Iterable[Match]:
    kinds = pack.pii_kinds(direction)
    if not kinds:
        return
    folded = norm.folded
    for found in detect(folded.text, kinds):
        rule = pack.pack.pii[found.kind]
        span = folded.original_span(found.start, found.end)
        replacement = mask_pii(found.value, found.kind)
        yield Match(
            rule.category,
            rule.action,
            rule.priority,
            MatchSource.PII,
            found.kind.value,
            span,
            None,
            replacement,
        )


def scan(
    text: str, *, pack: CompiledPack, direction: Direction, semantic: SemanticClassifier | None = None
) -> list[Match]:
    """Every match of every stage (before exemptions), spans in offsets of ``text``."""
    matches = _scan_views(normalize(text), pack, direction)
    if semantic is not None:
        for hit in semantic.classify(text):
            category = pack.pack.categories.get(hit.category)
            if category is not None and direction in category.directions:
                matches.append(
                    Match(
                        hit.category,
                        category.action,
                        category.priority,
                        MatchSource.SEMANTIC,
                        "semantic",
                        None,
                        hit.score,
                    )
                )
    return matches


def _scan_views(norm: Normalized, pack: CompiledPack, direction: Direction) -> list[Match]:
    """The keyword, regex and PII matches of an already normalised text."""
    return [
        *_keyword_matches(norm, pack, direction),
        *_regex_matches(norm, pack, direction),
        *_pii_matches(norm, pack, direction),
    ]


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def split_exempted(matches: list[Match]) -> tuple[list[Match], list[Match]]:
    """Split into (counting, exempted): a match is exempted by an overlapping higher-priority allow match."""
    allows = [match for match in matches if match.action is Action.ALLOW and match.span is not None]
    counting: list[Match] = []
    exempted: list[Match] = []
    for match in matches:
        span = match.span
        if (
            match.action is not Action.ALLOW
            and span is not None
            and any(allow.priority > match.priority and _overlaps(allow.span, span) for allow in allows)  # type: ignore[arg-type]
        ):
            exempted.append(match)
        else:
            counting.append(match)
    return counting, exempted


def winner(matches: Iterable[Match]) -> Match | None:
    """The deciding match: highest priority, then most severe action; ``None`` if only allows."""
    best: Match | None = None
    for match in matches:
        if match.action is Action.ALLOW:
            continue
        if best is None or (match.priority, ACTION_SEVERITY[match.action]) > (
            best.priority,
            ACTION_SEVERITY[best.action],
        ):
            best = match
    return best


def apply_masks(text: str, matches: Iterable[Match]) -> str:
    """``text`` with every ``mask`` match's span replaced (PII by its replacement, others by ``*``)."""
    spans = sorted(
        (match for match in matches if match.action is Action.MASK and match.span is not None),
        key=lambda match: (match.span[0], -match.span[1]),  # type: ignore[index]
    )
    out: list[str] = []
    cursor = 0
    for match in spans:
        start, end = match.span  # type: ignore[misc]
        if end <= cursor:
            continue
        if start >= cursor:
            out.append(text[cursor:start])
            out.append(match.replacement if match.replacement is not None else "*" * (end - start))
        else:
            out.append("*" * (end - cursor))
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def message_for(pack: CompiledPack, deciding: Match) -> str | None:
    """The refusal or review message for a deciding match (``None`` for mask/allow)."""
    category = pack.pack.categories.get(deciding.category)
    template = category.template if category is not None else None
    if template is None and deciding.source is MatchSource.PII:
        pii_rule = pack.pack.pii.get(PiiKind(deciding.rule))
        template = pii_rule.template if pii_rule is not None else None
    if deciding.action is Action.REFUSE:
        return (template or pack.pack.refusal_template).format(category=deciding.category)
    if deciding.action is Action.REVIEW:
        return (template or pack.pack.review_template).format(category=deciding.category)
    return None


def decide(
    text: str, matches: list[Match], *, pack: CompiledPack, direction: Direction, started: float
) -> Decision:
    """Turn raw matches into a :class:`Decision` (exemptions, winner, mask, message)."""
    if not matches:
        return Decision(
            action=Action.ALLOW,
            category=None,
            matches=(),
            exempted=(),
            masked_text=None,
            message=None,
            pack_id=pack.id,
            pack_version=pack.version,
            direction=direction,
            latency_ms=(time.perf_counter() - started) * 1000,
        )
    counting, exempted = split_exempted(matches)
    deciding = winner(counting)
    action = deciding.action if deciding is not None else Action.ALLOW
    return Decision(
        action=action,
        category=deciding.category if deciding is not None else None,
        matches=tuple(counting),
        exempted=tuple(exempted),
        masked_text=apply_masks(text, counting) if action is Action.MASK else None,
        message=message_for(pack, deciding) if deciding is not None else None,
        pack_id=pack.id,
        pack_version=pack.version,
        direction=direction,
        latency_ms=(time.perf_counter() - started) * 1000,
    )


def check(
    text: str,
    *,
    pack: CompiledPack,
    direction: Direction | str = Direction.INPUT,
    semantic: SemanticClassifier | None = None,
) -> Decision:
    """Check one complete text against ``pack`` and decide (see the module docstring)."""
    started = time.perf_counter()
    direction = Direction(direction)
    matches = scan(text, pack=pack, direction=direction, semantic=semantic)
    return decide(text, matches, pack=pack, direction=direction, started=started)


class StreamClosedError(RuntimeError):
    """``feed``/``finish`` was called on a stream that already stopped or finished."""


@dataclass(frozen=True, slots=True)
class StreamStep:
    """What one ``feed``/``finish`` call yields: safe ``text`` to forward, and whether to stop.

    ``decision`` is set when the stream stops (refuse/review: ``text`` is empty and nothing
    more may be sent) and on ``finish`` (the whole stream's outcome).
    """

    text: str
    stopped: bool = False
    decision: Decision | None = None


_HELD_BACK = StreamStep(text="")


@dataclass
class StreamChecker:
    """Checks a streamed output chunk by chunk; see :meth:`feed`.

    Text is held back until no rule can still change it: the last ``max term length − 1``
    characters of the compact view (a term split across chunks is still caught), the last
    ``pack.stream_window`` original characters (regexes and PII), and any match that is not
    yet settled or a mask span that would be cut. Keyword, regex and PII stages run; the
    semantic stage needs a whole text, so run :func:`check` with it on the finished output.

    ``step``: the text is checked (and released) once at least this many characters have arrived
    since the last check; 1 checks at every chunk. Every check scans the held-back text again, so
    a long output fed token by token costs about ``tokens × one scan``; a larger step trades
    smoothness (text is released in pieces of about ``step`` characters, at most
    ``stream_window + step − 1`` held back) for proportionally fewer scans. What is released and
    what stops the stream do not depend on it.
    """

    pack: CompiledPack
    direction: Direction = Direction.OUTPUT
    step: int = 1
    _buffer: str = field(default="", init=False)
    _unchecked: int = field(default=0, init=False)
    _context: str = field(default="", init=False)
    _emitted: int = field(default=0, init=False)
    _matches: list[Match] = field(default_factory=list, init=False)
    _exempted: list[Match] = field(default_factory=list, init=False)
    _closed: bool = field(default=False, init=False)
    _started: float = field(default_factory=time.perf_counter, init=False)

    _CONTEXT_CHARS = 16

    def __post_init__(self) -> None:
        self.direction = Direction(self.direction)
        if self.step < 1:
            raise ValueError(f"step must be at least 1 character, got {self.step}")

    def feed(self, chunk: str) -> StreamStep:
        """Add ``chunk``; return the text that is now safe to forward, or a stop."""
        if self._closed:
            raise StreamClosedError("the stream has already stopped or finished")
        self._buffer += chunk
        self._unchecked += len(chunk)
        if len(self._buffer) <= self.pack.pack.stream_window or self._unchecked < self.step:
            return _HELD_BACK  # all held back: within the window a scan could neither release nor stop
        self._unchecked = 0
        return self._step(final=False)

    def finish(self) -> StreamStep:
        """Flush what is held back and return the stream's overall decision."""
        if self._closed:
            raise StreamClosedError("the stream has already stopped or finished")
        return self._step(final=True)

    def _hold_point(self, norm: Normalized, offset: int) -> int:
        """Where the buffer stops being safe to release, from the scanned view (context + buffer).

        A term still arriving starts within the last ``max term length − 1`` characters of the
        compact view the keywords were matched on; ``offset`` is the context's length.
        """
        hold_terms = max(self.pack.max_term_length - 1, 1)
        compact = norm.compact
        length = len(compact.text)
        by_terms = 0 if length <= hold_terms else compact.starts[length - hold_terms] - offset
        return max(0, min(by_terms, len(self._buffer) - self.pack.pack.stream_window))

    def _step(self, *, final: bool) -> StreamStep:
        started = time.perf_counter()
        offset = len(self._context)
        norm = normalize(self._context + self._buffer)
        found = _scan_views(norm, self.pack, self.direction)
        if not found:  # the common case: nothing to settle, mask or stop
            release = len(self._buffer) if final else self._hold_point(norm, offset)
            return self._release(self._buffer[:release], final)
        raw = [match.shifted(-offset) for match in found]
        matches = [match for match in raw if match.span is not None and match.span[1] > 0]
        counting, exempted = split_exempted(matches)
        release = len(self._buffer) if final else self._hold_point(norm, offset)
        settled = [match for match in counting if match.span[1] <= release]  # type: ignore[index]
        stopper = winner(settled)
        if stopper is not None and stopper.action in (Action.REFUSE, Action.REVIEW):
            self._closed = True
            decision = Decision(
                action=stopper.action,
                category=stopper.category,
                matches=(*self._matches, *(m.shifted(self._emitted) for m in settled)),
                exempted=tuple(self._exempted),
                masked_text=None,
                message=message_for(self.pack, stopper),
                pack_id=self.pack.id,
                pack_version=self.pack.version,
                direction=self.direction,
                latency_ms=(time.perf_counter() - started) * 1000,
            )
            return StreamStep(text="", stopped=True, decision=decision)
        release = self._settle_release(release, counting)
        released_matches = [match for match in counting if match.span[1] <= release]  # type: ignore[index]
        out = apply_masks(self._buffer[:release], released_matches)
        self._matches.extend(match.shifted(self._emitted) for match in released_matches)
        self._exempted.extend(m.shifted(self._emitted) for m in exempted if m.span[1] <= release)  # type: ignore[index]
        return self._release(self._buffer[:release], final, out)

    def _release(self, released: str, final: bool, out: str | None = None) -> StreamStep:
        """Move ``released`` (a prefix of the buffer) out; ``out`` is its masked form when it differs."""
        self._context = (self._context + released)[-self._CONTEXT_CHARS :]
        self._buffer = self._buffer[len(released) :]
        self._emitted += len(released)
        text = released if out is None else out
        if not final:
            return StreamStep(text=text)
        self._closed = True
        return StreamStep(text=text, decision=self._overall())

    @staticmethod
    def _settle_release(release: int, counting: list[Match]) -> int:
        """Move ``release`` back before any match that it would cut or that is unsettled."""
        changed = True
        while changed:
            changed = False
            for match in counting:
                start, end = match.span  # type: ignore[misc]
                if start < release < end:
                    release = max(start, 0)
                    changed = True
        return release

    def _overall(self) -> Decision:
        deciding = winner(self._matches)
        action = Action.MASK if deciding is not None and deciding.action is Action.MASK else Action.ALLOW
        return Decision(
            action=action,
            category=deciding.category if deciding is not None else None,
            matches=tuple(self._matches),
            exempted=tuple(self._exempted),
            masked_text=None,
            message=None,
            pack_id=self.pack.id,
            pack_version=self.pack.version,
            direction=self.direction,
            latency_ms=(time.perf_counter() - self._started) * 1000,
        )
