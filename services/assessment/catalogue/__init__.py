"""The catalogue of the standard: clauses of sections 5–6, the 8.2.3 table, levels, rules, ambiguities."""

from services.assessment.catalogue.loader import CatalogueError, load_catalogue, parse_cell
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

__all__ = [
    "Ambiguity",
    "Attestable",
    "Catalogue",
    "CatalogueError",
    "Chapter",
    "Clause",
    "GradingRules",
    "LevelDefinition",
    "LevelRequirement",
    "Modality",
    "PerformanceRow",
    "Relation",
    "RequirementKind",
    "load_catalogue",
    "parse_cell",
]
