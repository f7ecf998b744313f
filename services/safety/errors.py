"""Errors of the safety service that the kernel has no class for (422 with field paths, 415)."""

from __future__ import annotations

from services.kernel.errors import STICError


class Unprocessable(STICError):
    """A raw body (rule pack, labelled file, masking policy) is malformed.

    ``detail`` lists ``{"field": <path>, "problem": <text>}`` like the kernel's request
    validation errors, so the caller learns which field is wrong.
    """

    status_code = 422
    code = "validation_error"

    @classmethod
    def of(cls, subject: str, errors: list[tuple[str, str]]) -> Unprocessable:
        """An error about ``subject`` listing ``(field path, problem)`` pairs."""
        summary = "; ".join(f"{field}: {problem}" for field, problem in errors[:5])
        return cls(
            f"invalid {subject}: {summary}",
            detail=[{"field": field, "problem": problem} for field, problem in errors],
        )


class UnsupportedMediaType(STICError):
    """The body's content type is not one the endpoint reads."""

    status_code = 415
    code = "unsupported_media_type"
