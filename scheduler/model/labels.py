"""Node labels and node selectors with Kubernetes semantics, and the labels the platform sets.

A selector is a set of ``key: value`` pairs; a node matches when its labels hold every pair
(Kubernetes ``nodeSelector``). Keys and values follow Kubernetes label syntax: a key is an optional
DNS-subdomain prefix (at most 253 characters) and ``/``, then a name of at most 63 characters made of
alphanumerics, ``-``, ``_`` and ``.`` that starts and ends with an alphanumeric; a value is empty or
such a name.

Keys under ``stic.io/`` are set by the platform from what it knows of a node and cannot be written
by users: :data:`SIMULATED` (``"true"`` for simulated hardware, ``"false"`` for a real machine),
:data:`HOSTNAME` (the node's name) and :data:`ARCH` (its CPU architecture).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

RESERVED_PREFIX = "stic.io/"
SIMULATED = "stic.io/simulated"
HOSTNAME = "stic.io/hostname"
ARCH = "stic.io/arch"
PLATFORM_KEYS = (SIMULATED, HOSTNAME, ARCH)

_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def key_problem(key: str) -> str | None:
    """Why ``key`` is not a valid Kubernetes label key, or None when it is."""
    prefix, slash, name = key.rpartition("/")
    if not slash:
        prefix = ""
    elif not prefix:
        return "the prefix before '/' must not be empty"
    if not _NAME.match(name):
        return (
            f"name part {name!r} must be 1-63 characters of [A-Za-z0-9-_.] starting and ending "
            "with an alphanumeric"
        )
    if prefix and (len(prefix) > 253 or not all(_DNS_LABEL.match(p) for p in prefix.split("."))):
        return f"prefix {prefix!r} must be a lower-case DNS subdomain of at most 253 characters"
    return None


def value_problem(value: str) -> str | None:
    """Why ``value`` is not a valid Kubernetes label value, or None when it is (empty is valid)."""
    if value == "" or _NAME.match(value):
        return None
    return (
        f"value {value!r} must be empty or 1-63 characters of [A-Za-z0-9-_.] starting and ending "
        "with an alphanumeric"
    )


def is_reserved(key: str) -> bool:
    """True for keys only the platform sets (``stic.io/...``)."""
    return key.startswith(RESERVED_PREFIX)


def matches(selector: Iterable[tuple[str, str]], labels: Mapping[str, str]) -> bool:
    """True when ``labels`` hold every ``(key, value)`` pair of ``selector`` (an empty one matches all)."""
    return all(labels.get(key) == value for key, value in selector)


def describe(selector: Iterable[tuple[str, str]]) -> str:
    """``{k1=v1, k2=v2}`` for reasons and logs."""
    return "{" + ", ".join(f"{k}={v}" for k, v in sorted(selector)) + "}"


def platform_labels(*, name: str, arch: str, simulated: bool) -> dict[str, str]:
    """The labels the platform sets on a node from what it knows of it."""
    return {SIMULATED: "true" if simulated else "false", HOSTNAME: name, ARCH: arch}


def with_platform_labels(
    labels: Mapping[str, str], *, name: str, arch: str, simulated: bool
) -> dict[str, str]:
    """``labels`` with the platform's labels on top (a stored ``stic.io/`` label never wins)."""
    own = {k: v for k, v in labels.items() if not is_reserved(k)}
    return {**own, **platform_labels(name=name, arch=arch, simulated=simulated)}


__all__ = [
    "ARCH",
    "HOSTNAME",
    "PLATFORM_KEYS",
    "RESERVED_PREFIX",
    "SIMULATED",
    "describe",
    "is_reserved",
    "key_problem",
    "matches",
    "platform_labels",
    "value_problem",
    "with_platform_labels",
]
