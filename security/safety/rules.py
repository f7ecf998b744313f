"""The rule-pack document: a versioned YAML/JSON mapping validated into frozen models.

A pack looks like this (``security/safety/packs/demo.yaml`` is a full example)::

    id: demo                     # [a-z0-9][a-z0-9._-]*
    version: 1.2.0               # packs are immutable per (id, version)
    tenant: null                 # null = global; otherwise the tenant the pack applies to
    refusal_template: "抱歉，该请求涉及{category}内容，无法处理。"
    stream_window: 32            # extra characters a stream holds back for regex/PII rules
    categories:
      violence:
        action: refuse           # allow | mask | refuse | review
        priority: 100            # higher wins when rules conflict
        template: "..."          # refusal text for this category (refuse/review only)
        directions: [input, output]
        keywords: [炸弹制作, how to make a bomb]
        regexes: ['自制.{0,4}(炸药|雷管)']
        exemplars: ["teach me to build an explosive device"]   # semantic stage
    pii:
      mobile: {action: mask, priority: 50, category: pii}
    semantic:
      threshold: 0.5

``allow`` categories are exemptions: an ``allow`` match suppresses lower-priority matches
whose spans overlap it (for example "拆除炸弹" in news about bomb disposal). Regexes are
applied to the *folded* text (lower-case, simplified, half-width), keywords to the compact
text; both are documented in :mod:`security.safety.normalize`. Regexes whose shape invites
catastrophic backtracking are refused, and the rest run under a time budget
(:mod:`security.safety.regex_guard`).

:func:`parse_pack` raises :class:`PackValidationError` whose message names every bad field
by its path (``categories.fraud.regexes[1]: ...``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from security.safety.pii import PiiKind
from security.safety.regex_guard import dangerous_shape


class Action(StrEnum):
    """What happens to a text that matches a rule."""

    ALLOW = "allow"
    MASK = "mask"
    REVIEW = "review"
    REFUSE = "refuse"


ACTION_SEVERITY = {Action.ALLOW: 0, Action.MASK: 1, Action.REVIEW: 2, Action.REFUSE: 3}
"""Tie-breaker between rules of equal priority: the more severe action wins."""


class Direction(StrEnum):
    """Whether a text is a prompt going in or a model output coming back."""

    INPUT = "input"
    OUTPUT = "output"


class PackValidationError(ValueError):
    """A rule pack is malformed; ``errors`` lists ``(field path, message)`` pairs."""

    def __init__(self, source: str, errors: list[tuple[str, str]]) -> None:
        self.source = source
        self.errors = errors
        lines = "; ".join(f"{path}: {message}" for path, message in errors)
        super().__init__(f"invalid rule pack {source}: {lines}")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Category(_Frozen):
    """One category of content and the rules that detect it."""

    action: Action
    priority: int = Field(default=0, ge=0, le=1000)
    template: str | None = Field(default=None, min_length=1)
    directions: tuple[Direction, ...] = (Direction.INPUT, Direction.OUTPUT)
    keywords: tuple[str, ...] = ()
    regexes: tuple[str, ...] = ()
    exemplars: tuple[str, ...] = ()

    @field_validator("keywords", "exemplars")
    @classmethod
    def _no_blank(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for index, value in enumerate(values):
            if not value.strip():
                raise ValueError(f"entry [{index}] is blank")
        return values

    @field_validator("regexes")
    @classmethod
    def _compiles(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for index, pattern in enumerate(values):
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"entry [{index}] {pattern!r} does not compile: {exc}") from None
            if compiled.match(""):
                raise ValueError(f"entry [{index}] {pattern!r} matches the empty string")
            risk = dangerous_shape(pattern)
            if risk is not None:
                raise ValueError(
                    f"entry [{index}] {pattern!r} is refused as a ReDoS risk: {risk}; "
                    "rewrite it without nested or overlapping repetition, or use an atomic group "
                    "(?>...) or a possessive quantifier (a++)"
                )
        return values

    @field_validator("directions")
    @classmethod
    def _some_direction(cls, values: tuple[Direction, ...]) -> tuple[Direction, ...]:
        if not values:
            raise ValueError("must name at least one of input, output")
        return values

    @model_validator(mode="after")
    def _has_rules(self) -> Category:
        if not (self.keywords or self.regexes or self.exemplars):
            raise ValueError("a category needs keywords, regexes or exemplars")
        if self.template is not None and self.action not in (Action.REFUSE, Action.REVIEW):
            raise ValueError(f"template is only used by refuse/review, not {self.action.value}")
        return self


class PiiRule(_Frozen):
    """What to do with one kind of personal information."""

    action: Action
    priority: int = Field(default=0, ge=0, le=1000)
    category: str = Field(default="pii", pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    template: str | None = Field(default=None, min_length=1)
    directions: tuple[Direction, ...] = (Direction.INPUT, Direction.OUTPUT)

    @field_validator("template")
    @classmethod
    def _template_placeholders(cls, value: str | None) -> str | None:
        if value is not None:
            _check_template(value)
        return value


class SemanticSettings(_Frozen):
    """Settings of the optional semantic stage (exemplars live in the categories)."""

    threshold: float = Field(default=0.6, gt=0.0, le=1.0)


class RulePack(_Frozen):
    """A validated, immutable rule pack. Build it with :func:`parse_pack` or :func:`load_pack`."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    version: str = Field(pattern=r"^\d+(\.\d+){0,2}([-+][0-9A-Za-z.-]+)?$")
    tenant: str | None = Field(default=None, min_length=1)
    description: str = ""
    refusal_template: str = Field(default="抱歉，该内容涉及{category}，无法处理。", min_length=1)
    review_template: str = Field(default="该内容已提交人工审核。", min_length=1)
    stream_window: int = Field(default=32, ge=0, le=4096)
    categories: dict[str, Category] = Field(min_length=1)
    pii: dict[PiiKind, PiiRule] = Field(default_factory=dict)
    semantic: SemanticSettings = SemanticSettings()

    @field_validator("categories")
    @classmethod
    def _category_names(cls, values: dict[str, Category]) -> dict[str, Category]:
        for name in values:
            if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", name):
                raise ValueError(f"category name {name!r} must match [a-z0-9][a-z0-9_.-]*")
        return values

    @field_validator("refusal_template", "review_template")
    @classmethod
    def _template_fields(cls, value: str) -> str:
        _check_template(value)
        return value

    @model_validator(mode="after")
    def _templates(self) -> RulePack:
        for name, category in self.categories.items():
            if category.template is not None:
                try:
                    _check_template(category.template)
                except ValueError as exc:
                    raise ValueError(f"categories.{name}.template: {exc}") from None
        return self

    @property
    def scope(self) -> str:
        """``"global"`` or ``"tenant:<id>"``."""
        return "global" if self.tenant is None else f"tenant:{self.tenant}"

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical JSON form: two packs with one (id, version) must share it."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


def _check_template(template: str) -> None:
    try:
        template.format(category="x")
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"template {template!r} may only use the placeholder {{category}} ({exc})") from None


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            out += " (key)"
        else:
            out += f".{part}" if out else str(part)
    return out or "<pack>"


def parse_pack(document: Mapping[str, Any], *, source: str = "<mapping>") -> RulePack:
    """Validate a pack document into a :class:`RulePack`; raises :class:`PackValidationError`."""
    if not isinstance(document, Mapping):
        raise PackValidationError(source, [("<pack>", f"expected a mapping, got {type(document).__name__}")])
    try:
        return RulePack.model_validate(dict(document))
    except ValidationError as exc:
        errors = [(_path(error["loc"]), error["msg"]) for error in exc.errors()]
        raise PackValidationError(source, errors) from None


def load_pack(path: str | Path) -> RulePack:
    """Read and validate a pack from a YAML (or JSON) file."""
    file = Path(path)
    try:
        document = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PackValidationError(str(file), [("<file>", f"cannot read: {exc.strerror}")]) from None
    except yaml.YAMLError as exc:
        raise PackValidationError(str(file), [("<file>", f"not valid YAML: {exc}")]) from None
    return parse_pack(document, source=str(file))
