"""Errors raised by the scheduling model."""

from __future__ import annotations


class ModelError(ValueError):
    """Invalid model input; ``field`` names the offending field (dotted path)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class InvalidTransitionError(ValueError):
    """A job state machine event that is not allowed in the current state."""

    def __init__(self, state: str, event: str) -> None:
        super().__init__(f"event {event!r} is not allowed in state {state!r}")
        self.state = state
        self.event = event
