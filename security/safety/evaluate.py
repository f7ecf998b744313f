"""Precision/recall of a rule pack on a labelled file.

The labelled file is JSON Lines, one example per line::

    {"text": "...", "labels": ["weapons"], "action": "refuse", "direction": "input", "note": "..."}

``labels`` lists the categories the text belongs to (empty for a negative); ``action``
(optional) is the expected decision; ``direction`` defaults to ``input``. A category is
predicted when a non-allow match of it survives exemptions (:attr:`Decision.categories`).
Per category, TP/FP/FN count examples; "overall" is the micro-average over categories;
"flagged" is the binary task "any label" vs "any non-allow decision".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from security.safety.engine import Decision, check
from security.safety.packs import CompiledPack
from security.safety.rules import Action, Direction

if TYPE_CHECKING:
    from security.safety.semantic import SemanticClassifier


class LabelledFileError(ValueError):
    """A labelled file line is malformed; the message names the file, line and field."""


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled text."""

    text: str
    labels: frozenset[str]
    action: Action | None = None
    direction: Direction = Direction.INPUT
    note: str = ""


@dataclass
class Counts:
    """True positives, false positives and false negatives of one category."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        """TP / (TP + FP); 1.0 when nothing was predicted."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """TP / (TP + FN); 1.0 when nothing was labelled."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form with rounded ratios."""
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


@dataclass(frozen=True, slots=True)
class Miss:
    """An example the pack got wrong (for the report)."""

    line: int
    text: str
    expected: tuple[str, ...]
    predicted: tuple[str, ...]
    expected_action: str | None
    action: str


@dataclass
class EvaluationReport:
    """Result of :func:`evaluate`."""

    pack_id: str
    pack_version: str
    examples: int
    semantic: bool
    per_category: dict[str, Counts] = field(default_factory=dict)
    overall: Counts = field(default_factory=Counts)
    flagged: Counts = field(default_factory=Counts)
    action_correct: int = 0
    action_labelled: int = 0
    misses: list[Miss] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "pack": {"id": self.pack_id, "version": self.pack_version},
            "examples": self.examples,
            "semantic": self.semantic,
            "per_category": {name: counts.as_dict() for name, counts in sorted(self.per_category.items())},
            "overall": self.overall.as_dict(),
            "flagged": self.flagged.as_dict(),
            "action_accuracy": round(self.action_correct / self.action_labelled, 4)
            if self.action_labelled
            else None,
            "misses": [
                {
                    "line": miss.line,
                    "text": miss.text,
                    "expected": list(miss.expected),
                    "predicted": list(miss.predicted),
                    "expected_action": miss.expected_action,
                    "action": miss.action,
                }
                for miss in self.misses
            ],
        }


def _field(row: dict[str, Any], name: str, kind: type, where: str) -> Any:
    value = row.get(name)
    if not isinstance(value, kind):
        raise LabelledFileError(f"{where}: field {name!r} must be a {kind.__name__}, got {value!r}")
    return value


def parse_example(line: str, *, where: str) -> Example:
    """Parse one JSON line; raises :class:`LabelledFileError` naming ``where`` and the field."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise LabelledFileError(f"{where}: not JSON ({exc.msg})") from None
    if not isinstance(row, dict):
        raise LabelledFileError(f"{where}: expected a JSON object")
    text = _field(row, "text", str, where)
    labels = _field(row, "labels", list, where)
    if not all(isinstance(label, str) and label for label in labels):
        raise LabelledFileError(f"{where}: field 'labels' must hold non-empty strings")
    try:
        action = Action(row["action"]) if row.get("action") is not None else None
        direction = Direction(row.get("direction", "input"))
    except ValueError as exc:
        raise LabelledFileError(f"{where}: {exc}") from None
    return Example(text, frozenset(labels), action, direction, str(row.get("note", "")))


def load_examples(path: str | Path) -> list[Example]:
    """Read a labelled JSONL file (blank lines ignored)."""
    file = Path(path)
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise LabelledFileError(f"{file}: cannot read ({exc.strerror})") from None
    examples = [
        parse_example(line, where=f"{file}:{number}") for number, line in enumerate(lines, 1) if line.strip()
    ]
    if not examples:
        raise LabelledFileError(f"{file}: no examples")
    return examples


def evaluate(
    examples: Sequence[Example],
    *,
    pack: CompiledPack,
    semantic: SemanticClassifier | None = None,
    progress: Callable[[], None] | None = None,
) -> EvaluationReport:
    """Check every example against ``pack`` and count hits per category (see module docstring)."""
    report = EvaluationReport(pack.id, pack.version, len(examples), semantic is not None)
    categories = set(pack.pack.categories) | {rule.category for rule in pack.pack.pii.values()}
    categories -= {name for name, category in pack.pack.categories.items() if category.action is Action.ALLOW}
    for example in examples:
        categories |= example.labels
    report.per_category = {name: Counts() for name in categories}
    for line, example in enumerate(examples, 1):
        decision = check(example.text, pack=pack, direction=example.direction, semantic=semantic)
        _score(report, line, example, decision)
        if progress is not None:
            progress()
    return report


def _score(report: EvaluationReport, line: int, example: Example, decision: Decision) -> None:
    predicted = decision.categories
    for name, counts in report.per_category.items():
        expected, got = name in example.labels, name in predicted
        counts.tp += expected and got
        counts.fp += got and not expected
        counts.fn += expected and not got
        report.overall.tp += expected and got
        report.overall.fp += got and not expected
        report.overall.fn += expected and not got
    flagged_expected, flagged_got = bool(example.labels), decision.action is not Action.ALLOW
    report.flagged.tp += flagged_expected and flagged_got
    report.flagged.fp += flagged_got and not flagged_expected
    report.flagged.fn += flagged_expected and not flagged_got
    action_ok = True
    if example.action is not None:
        report.action_labelled += 1
        action_ok = example.action is decision.action
        report.action_correct += action_ok
    if predicted != example.labels or not action_ok:
        report.misses.append(
            Miss(
                line,
                example.text,
                tuple(sorted(example.labels)),
                tuple(sorted(predicted)),
                example.action.value if example.action else None,
                decision.action.value,
            )
        )
