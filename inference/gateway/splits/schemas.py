"""Route documents: a split over variants, or a chain of steps."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from services.kernel.types import FreeText, Name, ResponseModel, StrictModel

HeaderName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,64}$")]
HeaderValue = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]{1,256}$")]


class Variant(StrictModel):
    """One arm of a split: a model service by name and its share of traffic."""

    name: Name
    service: Name
    weight: Annotated[int, Field(ge=0, le=10_000)] = 1


class HeaderOverride(StrictModel):
    """Requests whose ``header`` equals ``value`` always go to ``variant`` (testers, internal users)."""

    header: HeaderName
    value: HeaderValue
    variant: Name


class SplitSpec(StrictModel):
    """A/B or canary. ``sticky_by``: ``user`` (the request's ``user`` field, else the API key) or
    ``header`` (``sticky_header``) hashes the caller to a stable variant; ``none`` draws by weight
    on every request (a weighted canary)."""

    variants: Annotated[list[Variant], Field(min_length=1, max_length=16)]
    sticky_by: Literal["user", "header", "none"] = "user"
    sticky_header: HeaderName = "x-session-id"
    overrides: Annotated[list[HeaderOverride], Field(max_length=32)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> SplitSpec:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError("variant names must be unique")
        if sum(v.weight for v in self.variants) <= 0:
            raise ValueError("at least one variant needs a positive weight")
        for override in self.overrides:
            if override.variant not in names:
                raise ValueError(f"override names unknown variant '{override.variant}'")
        return self


class ChainStep(StrictModel):
    """One model in a chain; its input is the previous step's output (the first step's is the request).

    ``system_prompt`` is put before the step's input; ``max_tokens`` caps that step's output.
    """

    service: Name
    system_prompt: Annotated[str, StringConstraints(max_length=8_000)] | None = None
    max_tokens: Annotated[int, Field(ge=1, le=32_768)] | None = None


class ChainSpec(StrictModel):
    """Several models served as one endpoint, run in order (multi-model orchestration)."""

    steps: Annotated[list[ChainStep], Field(min_length=2, max_length=8)]


class RouteCreate(StrictModel):
    """Exactly one of ``split`` and ``chain``."""

    name: Name
    description: FreeText = ""
    split: SplitSpec | None = None
    chain: ChainSpec | None = None
    enabled: bool = True

    @model_validator(mode="after")
    def _one_kind(self) -> RouteCreate:
        if (self.split is None) == (self.chain is None):
            raise ValueError("give exactly one of 'split' and 'chain'")
        return self


class RouteUpdate(StrictModel):
    """Replace the document (e.g. shift canary weight) or switch the route on or off."""

    description: FreeText | None = None
    split: SplitSpec | None = None
    chain: ChainSpec | None = None
    enabled: bool | None = None


class RouteOut(ResponseModel):
    """A stored route."""

    id: str
    tenant_id: str
    name: str
    kind: Literal["split", "chain"]
    description: str
    enabled: bool
    spec: dict[str, Any]
    created_by: str
    created_at: datetime
    updated_at: datetime
