"""Typed plugin results (kube-scheduler ``framework.Status``): a code, reasons and the plugin's name."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Code(StrEnum):
    """Outcome of a plugin call."""

    SUCCESS = "Success"
    UNSCHEDULABLE = "Unschedulable"  # may fit later (resources busy)
    UNSCHEDULABLE_AND_UNRESOLVABLE = "UnschedulableAndUnresolvable"  # can never fit as specified
    ERROR = "Error"


@dataclass(frozen=True, slots=True)
class Status:
    """Result of a plugin call. ``ok`` is True only for :attr:`Code.SUCCESS`."""

    code: Code
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @property
    def ok(self) -> bool:
        """True for success."""
        return self.code is Code.SUCCESS

    def message(self) -> str:
        """``plugin: reason; reason`` for logs and pending reasons."""
        text = "; ".join(self.reasons) or self.code.value
        return f"{self.plugin}: {text}" if self.plugin else text


SUCCESS = Status(Code.SUCCESS)


def unschedulable(plugin: str, *reasons: str) -> Status:
    """A failure that may resolve when resources free up."""
    return Status(Code.UNSCHEDULABLE, reasons, plugin)


def unresolvable(plugin: str, *reasons: str) -> Status:
    """A failure that no amount of waiting resolves."""
    return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons, plugin)
