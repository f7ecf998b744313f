"""Load and validate the curated catalogue (``data/*.yaml``) into :class:`Catalogue`.

Every structural mistake in the data raises :class:`CatalogueError` naming the file and the item.
The level cells of the performance table are interpreted here (see :func:`parse_cell`), so the
verbatim cell is the only source of a requirement.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from services.assessment.catalogue.models import (
    Ambiguity,
    Attestable,
    Catalogue,
    Chapter,
    Clause,
    GradingRules,
    LevelDefinition,
    LevelRequirement,
    Modality,
    PerformanceRow,
    Relation,
    RequirementKind,
)
from services.assessment.units import UnitError, convert, exact, parse_unit

DATA_DIR = Path(__file__).with_name("data")
LEVELS = (1, 2, 3, 4, 5)

_CLAUSE_ID = re.compile(r"^([56](?:\.\d+)*)\.([a-z])$")
_ROW_ID = re.compile(r"^(7\.\d\.\d)\.([a-z])\.(\d+)$")
_THRESHOLD = re.compile(r"^(>=|<=|>|≥|<|≤)\s*(\d[\d,]*(?:\.\d+)?)\s*(百万|万)?\s*(.*)$")
_MAGNITUDE = re.compile(r"^(\d[\d,]*)?\s*(百万|万)?\s*级$")
_OPERATORS = {">": ">", ">=": "≥", "≥": "≥", "<": "<", "<=": "≤", "≤": "≤"}
_MULTIPLIER = {None: Fraction(1), "万": Fraction(10**4), "百万": Fraction(10**6)}
_MODALITY_SOURCES = {"explicit", "inherited", "reading"}


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: 10x faster


class CatalogueError(ValueError):
    """The catalogue data is malformed or inconsistent."""


def parse_cell(cell: str, *, unit: str, capabilities: Mapping[str, str]) -> LevelRequirement:
    """Interpret one level cell of the 8.2.3 table for a row reported in ``unit``.

    ``—`` → not required; ``记录`` → record; ``> 65%``/``≤ 5 min``/``≥1 万`` → threshold converted to
    ``unit``; ``256 级``/``10 万级``/``万级`` → at least that many; a cell listed in ``capabilities`` →
    that capability. Anything else raises :class:`CatalogueError`.
    """
    text = cell.strip()
    if text == "—":
        return LevelRequirement(RequirementKind.NOT_REQUIRED, cell)
    if text == "记录":
        return LevelRequirement(RequirementKind.RECORD, cell)
    if text in capabilities:
        return LevelRequirement(RequirementKind.CAPABILITY, cell, capability=capabilities[text], unit=unit)
    if found := _THRESHOLD.match(text):
        operator, number, multiplier, cell_unit = found.groups()
        value = exact(Fraction(number.replace(",", ""))) * _MULTIPLIER[multiplier]
        try:
            if cell_unit.strip():
                value = convert(value, from_unit=cell_unit, to_unit=unit)
        except UnitError as exc:
            raise CatalogueError(f"cell {cell!r}: {exc}") from exc
        return LevelRequirement(RequirementKind.THRESHOLD, cell, _OPERATORS[operator], value, unit)
    if found := _MAGNITUDE.match(text):
        number, multiplier = found.groups()
        if number is None and multiplier is None:
            raise CatalogueError(f"cell {cell!r} names no magnitude")
        base = Fraction(number.replace(",", "")) if number else Fraction(1)
        return LevelRequirement(RequirementKind.THRESHOLD, cell, "≥", base * _MULTIPLIER[multiplier], unit)
    raise CatalogueError(f"cannot interpret level cell {cell!r}; list it under the row's capabilities")


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path.name}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise CatalogueError(f"{path.name}: expected a mapping at the top level")
    return data


def _text(item: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = item.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str | int | float) or (required and not str(value).strip()):
        raise CatalogueError(f"{where}: {key!r} must be a non-empty string, got {value!r}")
    return str(value)


def _chapters(data: Mapping[str, Any]) -> dict[str, Chapter]:
    chapters: dict[str, Chapter] = {}
    for item in data.get("chapters") or []:
        chapter_id = _text(item, "id", "clauses.yaml chapter")
        where = f"clauses.yaml chapter {chapter_id}"
        if chapter_id in chapters:
            raise CatalogueError(f"{where}: duplicate chapter")
        chapters[chapter_id] = Chapter(
            chapter_id, _text(item, "title_zh", where), _text(item, "title_en", where)
        )
    return chapters


def _clause(item: Mapping[str, Any], chapters: Mapping[str, Chapter]) -> Clause:
    clause_id = _text(item, "id", "clauses.yaml clause")
    where = f"clauses.yaml clause {clause_id}"
    if not (found := _CLAUSE_ID.match(clause_id)):
        raise CatalogueError(f"{where}: id must look like 6.2.4.2.e")
    section, letter = found.groups()
    if section not in chapters:
        raise CatalogueError(f"{where}: section {section} has no chapter entry")
    try:
        modality = Modality(_text(item, "modality", where))
        attestable = Attestable(item["attestable"]) if item.get("attestable") else None
    except ValueError as exc:
        raise CatalogueError(f"{where}: {exc}") from exc
    source = _text(item, "modality_source", where, required=False) or "explicit"
    if source not in _MODALITY_SOURCES:
        raise CatalogueError(f"{where}: modality_source must be one of {sorted(_MODALITY_SOURCES)}")
    if source == "reading" and not item.get("ambiguity"):
        raise CatalogueError(f"{where}: a modality by reading must name its ambiguity")
    relations = tuple(
        Relation(_text(r, "kind", where), _text(r, "section", where), _text(r, "rule", where))
        for r in item.get("derived_from") or []
    )
    if (attestable is Attestable.SECTION_5) != (section.split(".")[0] == "5"):
        raise CatalogueError(f"{where}: every section-5 clause, and only those, is attestable as section_5")
    return Clause(
        id=clause_id,
        section=section,
        letter=letter,
        modality=modality,
        text_zh=_text(item, "text_zh", where),
        gloss_en=_text(item, "gloss_en", where),
        modality_source=source,
        lead_in_zh=item.get("lead_in_zh"),
        ambiguity=item.get("ambiguity"),
        derived_from=relations,
        attestable=attestable,
        attestation_subject_en=item.get("attestation_subject_en"),
    )


def _row(item: Mapping[str, Any]) -> PerformanceRow:
    row_id = _text(item, "id", "performance.yaml row")
    where = f"performance.yaml row {row_id}"
    if not (found := _ROW_ID.match(row_id)):
        raise CatalogueError(f"{where}: id must look like 7.3.1.a.1")
    unit = str(item.get("unit", ""))
    try:
        parse_unit(unit)
    except UnitError as exc:
        raise CatalogueError(f"{where}: {exc}") from exc
    direction = _text(item, "direction", where)
    if direction not in {"higher", "lower", "none"}:
        raise CatalogueError(f"{where}: direction must be higher, lower or none")
    cells = item.get("cells")
    if not isinstance(cells, list) or len(cells) != len(LEVELS):
        raise CatalogueError(f"{where}: cells must list exactly {len(LEVELS)} levels")
    capabilities = {str(k): str(v) for k, v in (item.get("capabilities") or {}).items()}
    try:
        requirements = tuple(parse_cell(str(c), unit=unit, capabilities=capabilities) for c in cells)
    except CatalogueError as exc:
        raise CatalogueError(f"{where}: {exc}") from exc
    allowed = {"higher": {">", "≥"}, "lower": {"<", "≤"}, "none": set()}[direction]
    for level, requirement in zip(LEVELS, requirements, strict=True):
        if requirement.kind is RequirementKind.THRESHOLD and requirement.operator not in allowed:
            raise CatalogueError(
                f"{where}: level {level} operator {requirement.operator} contradicts {direction}"
            )
    return PerformanceRow(
        id=row_id,
        section=found.group(1),
        group=found.group(2),
        group_zh=_text(item, "group_zh", where),
        label_zh=_text(item, "label_zh", where),
        gloss_en=_text(item, "gloss_en", where),
        unit=unit,
        direction=direction,
        cells=tuple(str(c) for c in cells),
        requirements=requirements,
        capabilities=capabilities,
    )


def _levels(data: Mapping[str, Any]) -> tuple[tuple[LevelDefinition, ...], GradingRules]:
    levels = tuple(
        LevelDefinition(
            level=int(item["level"]),
            name_zh=_text(item, "name_zh", "levels.yaml"),
            name_en=_text(item, "name_en", "levels.yaml"),
            definition_zh=_text(item, "definition_zh", "levels.yaml"),
            gloss_en=_text(item, "gloss_en", "levels.yaml"),
        )
        for item in data.get("levels") or []
    )
    if tuple(level.level for level in levels) != LEVELS:
        raise CatalogueError(f"levels.yaml: levels must be exactly {LEVELS}")
    grading = data.get("grading") or {}
    rates = {int(k): Fraction(str(v)) for k, v in (grading.get("functional_rate_percent") or {}).items()}
    if tuple(sorted(rates)) != LEVELS:
        raise CatalogueError(f"levels.yaml: functional_rate_percent must give levels {LEVELS}")
    if any(rates[a] > rates[b] for a, b in itertools.pairwise(LEVELS)):
        raise CatalogueError("levels.yaml: functional_rate_percent must not decrease with the level")
    rules = GradingRules(
        security_section=str(grading.get("security_section", "")),
        functional_prerequisites=tuple(str(c) for c in grading.get("functional_prerequisites") or ()),
        functional_rate_sections=tuple(str(s) for s in grading.get("functional_rate_sections") or ()),
        functional_rate_percent=rates,
        ladder=bool(grading.get("ladder", True)),
    )
    return levels, rules


def _ambiguities(data: Mapping[str, Any]) -> tuple[Ambiguity, ...]:
    items = []
    for item in data.get("ambiguities") or []:
        where = f"ambiguities.yaml {item.get('id')!r}"
        items.append(
            Ambiguity(
                *(
                    _text(item, k, where)
                    for k in ("id", "where", "text_zh", "issue_en", "reading_en", "effect_en")
                )
            )
        )
    return tuple(items)


def _check(catalogue: Catalogue) -> None:
    ids = [c.id for c in catalogue.clauses]
    if duplicates := sorted({i for i in ids if ids.count(i) > 1}):
        raise CatalogueError(f"clauses.yaml: duplicate clause ids {duplicates}")
    rows = [r.id for r in catalogue.performance_rows]
    if duplicates := sorted({i for i in rows if rows.count(i) > 1}):
        raise CatalogueError(f"performance.yaml: duplicate row ids {duplicates}")
    ambiguity_ids = {a.id for a in catalogue.ambiguities}
    for clause in catalogue.clauses:
        if clause.ambiguity and clause.ambiguity not in ambiguity_ids:
            raise CatalogueError(f"clause {clause.id}: unknown ambiguity {clause.ambiguity!r}")
        for relation in clause.derived_from:
            if relation.kind != "conforms_to" or relation.rule != "all_mandatory_met":
                raise CatalogueError(f"clause {clause.id}: unsupported relation {relation}")
            if not catalogue.mandatory_in([relation.section]):
                raise CatalogueError(f"clause {clause.id}: {relation.section} has no mandatory clause")
            if clause.in_section(relation.section):
                raise CatalogueError(f"clause {clause.id}: a clause cannot derive from its own section")
    known = set(ids)
    rules = catalogue.grading
    if missing := [c for c in rules.functional_prerequisites if c not in known]:
        raise CatalogueError(f"levels.yaml: unknown prerequisite clauses {missing}")
    for section in (rules.security_section, *rules.functional_rate_sections):
        if section not in catalogue.chapters:
            raise CatalogueError(f"levels.yaml: unknown section {section!r}")


def load_catalogue(data_dir: Path | None = None) -> Catalogue:
    """Load the catalogue from ``data_dir`` (default: the packaged ``data/``); cached for the default."""
    if data_dir is None:
        return _default_catalogue()
    return _load(data_dir)


@lru_cache(maxsize=1)
def _default_catalogue() -> Catalogue:
    return _load(DATA_DIR)


def _load(data_dir: Path) -> Catalogue:
    clause_data = _read(data_dir / "clauses.yaml")
    chapters = _chapters(clause_data)
    clauses = tuple(_clause(item, chapters) for item in clause_data.get("clauses") or [])
    rows = tuple(_row(item) for item in _read(data_dir / "performance.yaml").get("rows") or [])
    levels, rules = _levels(_read(data_dir / "levels.yaml"))
    catalogue = Catalogue(
        chapters=chapters,
        clauses=clauses,
        performance_rows=rows,
        levels=levels,
        grading=rules,
        ambiguities=_ambiguities(_read(data_dir / "ambiguities.yaml")),
    )
    _check(catalogue)
    return catalogue
