"""Extract the clauses, the 8.2.3 performance table and the 8.1/8.2.2 tables from the standard's text.

This parser is the independent witness against which the curated catalogue is checked: it knows
nothing of ``data/*.yaml`` and reads only the text file of T/ISC "安全可信智能云平台能力分级方法".
It understands the layout of that file (one clause per line, ``- a) …`` or ``a) …``, numbered
headings, a lead-in line ``…应支持：`` whose items inherit its modal verb, tab-separated tables).

Modality is read from the first modal verb of a clause: 应/需 → mandatory, 宜 → recommended,
可 → optional. Characters that only look like modal verbs inside ordinary words (应用, 响应, 可信,
需求, …) are skipped. A clause without a modal verb and without a lead-in gets ``None``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

MODAL_MANDATORY = ("应", "需")
MODAL_RECOMMENDED = ("宜",)
MODAL_OPTIONAL = ("可",)

# Two-character words in which 应/需/宜/可 is not a modal verb (the modal char's position matters).
_NON_MODAL_WORDS = (
    "应用",
    "响应",
    "相应",
    "对应",
    "适应",
    "供应",
    "需求",
    "可信",
    "可控",
    "可视",
    "可配",
    "可管",
    "可追",
    "可编",
    "可伸",
    "可靠",
    "可用",
    "可扩",
    "可能",
    "可解",
)

_HEADING = re.compile(r"^(\d+(?:\.\d+)*)\s+(\S.*)$")
_CLAUSE = re.compile(r"^(?:-\s*)?([a-z])\)\s*(\S.*)$")
_RELATION = re.compile(r"符合(\d+(?:\.\d+)+)")
_LEAD_IN = re.compile(r"^[^-\s].*[应宜可需]支持：$")
_PERF_SECTION = re.compile(r"(7\.\d\.\d)\s+\S")
_PERF_GROUP = re.compile(r"^([a-z])\.\s*(\S.*?)[：:]?$")
_PERF_ROW = re.compile(r"^(\d+)\.\s*(\S.*)$")
_LEVEL_ROW = re.compile(r"^([1-5])\t(\S+)\t(\S.*)$")
_RATE_CELL = re.compile(r"^(\d+(?:\.\d+)?)%及以上$")


class StandardFormatError(ValueError):
    """The standard's text does not have the layout this parser expects."""


@dataclass(frozen=True, slots=True)
class ParsedClause:
    """One lettered clause of sections 5–6 as it stands in the text."""

    id: str
    section: str
    letter: str
    text: str
    modality: str | None
    modality_source: str  # "explicit", "inherited" or "none"
    relations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ParsedPerformanceRow:
    """One row of the 8.2.3 table: its id, label and the five level cells (whitespace removed)."""

    id: str
    section: str
    group: str
    label: str
    cells: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ParsedLevel:
    """One row of the 8.1 level-definition table."""

    level: int
    name: str
    definition: str


@dataclass(frozen=True, slots=True)
class ParsedStandard:
    """Everything the catalogue is checked against."""

    headings: dict[str, str]
    clauses: tuple[ParsedClause, ...]
    performance_rows: tuple[ParsedPerformanceRow, ...]
    levels: tuple[ParsedLevel, ...]
    rate_thresholds_percent: tuple[float, ...]
    notes: dict[str, list[str]] = field(default_factory=dict)


def modality_of(text: str) -> str | None:
    """The modality of the first modal verb in ``text``, or ``None`` when it has none."""
    for index, char in enumerate(text):
        if char not in "应需宜可":
            continue
        pair_after = text[index : index + 2]
        pair_before = text[max(index - 1, 0) : index + 1]
        if pair_after in _NON_MODAL_WORDS or pair_before in _NON_MODAL_WORDS:
            continue
        if char in MODAL_MANDATORY:
            return "mandatory"
        if char in MODAL_RECOMMENDED:
            return "recommended"
        return "optional"
    return None


REPO_ROOT = Path(__file__).resolve().parents[3]
STANDARD_DIR_ENV = "STIC_STANDARD_DIR"


def default_standard_dir() -> Path:
    """``$STIC_STANDARD_DIR`` if set, else ``shared/standard`` beside the repository root."""
    configured = os.environ.get(STANDARD_DIR_ENV)
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "standard"


def find_standard_file(search_dir: Path) -> Path:
    """The single ``*.txt`` file in ``search_dir``; raises ``FileNotFoundError`` otherwise."""
    candidates = sorted(search_dir.glob("*.txt")) if search_dir.is_dir() else []
    if len(candidates) != 1:
        raise FileNotFoundError(
            f"expected exactly one standard text file (*.txt) in {search_dir}, found {len(candidates)}"
        )
    return candidates[0]


def _body(lines: Sequence[str], start: str, stop: str) -> list[str]:
    try:
        first = lines.index(start)
        last = lines.index(stop, first + 1)
    except ValueError as exc:
        raise StandardFormatError(f"cannot find the body between {start!r} and {stop!r}") from exc
    return list(lines[first:last])


def _parse_clauses(lines: Iterable[str]) -> tuple[dict[str, str], list[ParsedClause], dict[str, list[str]]]:
    headings: dict[str, str] = {}
    clauses: list[ParsedClause] = []
    notes: dict[str, list[str]] = {}
    section = ""
    lead_in: str | None = None
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if heading := _HEADING.match(line):
            section, headings[heading.group(1)] = heading.group(1), heading.group(2).strip()
            lead_in = None
            continue
        if line.startswith("注："):
            notes.setdefault(section, []).append(line)
            lead_in = None
            continue
        if clause := _CLAUSE.match(line):
            letter, text = clause.groups()
            own = modality_of(text)
            modality, source = (own, "explicit") if own else (lead_in, "inherited" if lead_in else "none")
            clauses.append(
                ParsedClause(
                    id=f"{section}.{letter}",
                    section=section,
                    letter=letter,
                    text=text,
                    modality=modality,
                    modality_source=source,
                    relations=tuple(_RELATION.findall(text)),
                )
            )
            continue
        if _LEAD_IN.match(line):
            lead_in = modality_of(line)
            continue
        raise StandardFormatError(f"unrecognised line in section {section}: {line!r}")
    return headings, clauses, notes


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _parse_performance(lines: Sequence[str]) -> list[ParsedPerformanceRow]:
    rows: list[ParsedPerformanceRow] = []
    section = group = ""
    for raw in lines:
        cells = [c.strip() for c in raw.split("\t") if c.strip()]
        if not cells:
            continue
        first = cells[0]
        for cell in cells[:2]:
            if found := _PERF_SECTION.match(cell):
                section, group = found.group(1), ""
        if _PERF_SECTION.match(first) or re.match(r"^7\.\d\s", first):
            continue
        if (found := _PERF_GROUP.match(first)) and len(cells) == 1:
            group = found.group(1)
            continue
        if len(cells) < 5 and rows and not _PERF_ROW.match(first) and len(cells) <= 2:
            # a wrapped cell: the fragments continue the last cells of the previous row
            last = rows[-1]
            merged = list(last.cells)
            for offset, fragment in enumerate(cells):
                position = len(merged) - len(cells) + offset
                merged[position] = merged[position] + _compact(fragment)
            rows[-1] = ParsedPerformanceRow(last.id, last.section, last.group, last.label, tuple(merged))
            continue
        if len(cells) != 6:
            raise StandardFormatError(f"8.2.3 row with {len(cells) - 1} level cells: {raw!r}")
        numbered = _PERF_ROW.match(first)
        number, label = (numbered.group(1), numbered.group(2)) if numbered else ("1", first)
        if not section or not group:
            raise StandardFormatError(f"8.2.3 row outside a section/group: {raw!r}")
        rows.append(
            ParsedPerformanceRow(
                id=f"{section}.{group}.{number}",
                section=section,
                group=group,
                label=label.rstrip("：: "),
                cells=tuple(_compact(c) for c in cells[1:]),
            )
        )
    return rows


def _parse_levels(lines: Sequence[str]) -> tuple[list[ParsedLevel], list[float]]:
    levels = [
        ParsedLevel(int(m.group(1)), m.group(2), m.group(3).strip())
        for line in lines
        if (m := _LEVEL_ROW.match(line))
    ]
    rates: list[float] = []
    for line in lines:
        if line.startswith("6.2-6.4") and "达成率" in line:
            cells = [c.strip() for c in line.split("\t")[1:] if c.strip()]
            for cell in cells:
                if not (m := _RATE_CELL.match(cell)):
                    raise StandardFormatError(f"unreadable 8.2.2 rate cell {cell!r}")
                rates.append(float(m.group(1)))
    if len(levels) != 5 or len(rates) != 5:
        raise StandardFormatError(f"expected 5 levels and 5 rates, found {len(levels)} and {len(rates)}")
    return levels, rates


def parse_standard(path: Path) -> ParsedStandard:
    """Parse the standard text file at ``path`` (UTF-8)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    headings, clauses, notes = _parse_clauses(_body(lines, "5 安全可信要求", "7 性能要求"))
    grading = lines[lines.index("8 分级方法") :]
    table_start = next(i for i, line in enumerate(grading) if line.startswith("8.2.3 "))
    table = [line for line in grading[table_start:] if not line.startswith(("8.2.3", "性能指标", "章节"))]
    levels, rates = _parse_levels(grading[:table_start])
    return ParsedStandard(
        headings=headings,
        clauses=tuple(clauses),
        performance_rows=tuple(_parse_performance(table)),
        levels=tuple(levels),
        rate_thresholds_percent=tuple(rates),
        notes=notes,
    )
