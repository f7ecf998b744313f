"""Licence identification from Python package metadata and an allow-list policy.

A distribution's licence is read, in order of trust, from the PEP 639 ``License-Expression``
field, a short ``License`` field that names known licences, then the trove classifiers
(several classifiers are read as all applying: ``A AND B``). Names are normalised to SPDX
identifiers where the source is unambiguous; the unversioned classifiers ``BSD License`` and
``Apache Software License`` become the families ``BSD`` and ``Apache``. A licence that
cannot be identified is ``None`` and always flagged.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import PackageMetadata

DEFAULT_ALLOW: tuple[str, ...] = (
    "MIT",
    "MIT-0",
    "MIT-CMU",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "0BSD",
    "BSD",
    "Apache-2.0",
    "Apache",
    "ISC",
    "PSF-2.0",
    "Python-2.0",
    "CNRI-Python",
    "MPL-2.0",
    "LGPL-*",
    "Unlicense",
    "CC0-1.0",
    "Zlib",
    "BSL-1.0",
    "HPND",
    "LicenseRef-Public-Domain",
)
"""Permissive and weak-copyleft licences accepted by default (``*`` is a glob)."""

_ALIASES: dict[str, str] = {
    "mit": "MIT",
    "mit license": "MIT",
    "the mit license": "MIT",
    "expat": "MIT",
    "bsd": "BSD",
    "bsd license": "BSD",
    "new bsd": "BSD-3-Clause",
    "new bsd license": "BSD-3-Clause",
    "bsd 3-clause": "BSD-3-Clause",
    "bsd-3": "BSD-3-Clause",
    "3-clause bsd": "BSD-3-Clause",
    "simplified bsd": "BSD-2-Clause",
    "bsd 2-clause": "BSD-2-Clause",
    "apache": "Apache",
    "apache 2": "Apache-2.0",
    "apache 2.0": "Apache-2.0",
    "apache-2": "Apache-2.0",
    "apache 2.0 license": "Apache-2.0",
    "apache license 2.0": "Apache-2.0",
    "apache license, version 2.0": "Apache-2.0",
    "apache software license": "Apache",
    "apache license": "Apache",
    "psf": "PSF-2.0",
    "psfl": "PSF-2.0",
    "psf license": "PSF-2.0",
    "python software foundation license": "PSF-2.0",
    "isc license": "ISC",
    "isc license (iscl)": "ISC",
    "mpl 2.0": "MPL-2.0",
    "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0",
    "the unlicense (unlicense)": "Unlicense",
    "public domain": "LicenseRef-Public-Domain",
    "public-domain": "LicenseRef-Public-Domain",
    "gplv2": "GPL-2.0-only",
    "gplv2+": "GPL-2.0-or-later",
    "gplv3": "GPL-3.0-only",
    "gplv3+": "GPL-3.0-or-later",
    "lgpl": "LGPL-2.0-or-later",
    "lgplv2": "LGPL-2.0-only",
    "lgplv2+": "LGPL-2.0-or-later",
    "lgplv3": "LGPL-3.0-only",
    "lgplv3+": "LGPL-3.0-or-later",
    "gnu general public license v2 (gplv2)": "GPL-2.0-only",
    "gnu general public license v2 or later (gplv2+)": "GPL-2.0-or-later",
    "gnu general public license v3 (gplv3)": "GPL-3.0-only",
    "gnu general public license v3 or later (gplv3+)": "GPL-3.0-or-later",
    "gnu lesser general public license v2 (lgplv2)": "LGPL-2.0-only",
    "gnu lesser general public license v2 or later (lgplv2+)": "LGPL-2.0-or-later",
    "gnu lesser general public license v3 (lgplv3)": "LGPL-3.0-only",
    "gnu lesser general public license v3 or later (lgplv3+)": "LGPL-3.0-or-later",
    "gnu affero general public license v3": "AGPL-3.0-only",
    "gnu affero general public license v3 or later (agplv3+)": "AGPL-3.0-or-later",
    "eclipse public license 2.0 (epl-2.0)": "EPL-2.0",
}
_SPDX_ID = re.compile(r"^(LicenseRef-[A-Za-z0-9.-]+|[A-Za-z][A-Za-z0-9.+-]*|0BSD)$")
_TOKEN = re.compile(r"\s*(\(|\)|[^\s()]+)")
_MAX_LICENSE_FIELD = 80


def _normalise_term(term: str) -> str | None:
    alias = _ALIASES.get(term.strip().lower())
    if alias is not None:
        return alias
    looks_spdx = bool(_SPDX_ID.match(term)) and any(c.isdigit() for c in term)
    return term if looks_spdx or term in DEFAULT_ALLOW else None


def normalise_expression(text: str) -> str | None:
    """Return ``text`` as an SPDX-style expression with every term normalised, or ``None``.

    Terms are SPDX identifiers or known aliases (``Apache 2.0``, ``MIT License``); operators
    ``AND``/``OR``/``WITH`` may be in any case. Anything else yields ``None``.
    """
    whole = _ALIASES.get(text.strip().lower())
    if whole is not None:
        return whole
    out: list[str] = []
    for part in _TOKEN.findall(text):
        operand_expected = not out or out[-1] in ("(", "AND", "OR")
        if part == "(":
            if not operand_expected:
                return None
            out.append(part)
        elif part == ")":
            out.append(part)
        elif part.upper() in ("AND", "OR", "WITH"):
            if operand_expected:
                return None
            out.append(part.upper())
        elif out and out[-1] == "WITH":
            out.append(part)
        else:
            term = _normalise_term(part)
            if term is None or not operand_expected:
                return None
            out.append(term)
    return " ".join(out).replace("( ", "(").replace(" )", ")") or None


def classifier_licence(classifier: str) -> str | None:
    """Map a ``License :: ...`` trove classifier to an SPDX id or family; ``None`` if unknown."""
    if not classifier.startswith("License ::"):
        return None
    leaf = classifier.rsplit("::", 1)[-1].strip()
    return _ALIASES.get(leaf.lower())


def metadata_field(metadata: PackageMetadata, name: str) -> str | None:
    """The first value of a core-metadata field, or ``None`` when absent."""
    values = metadata.get_all(name)
    return str(values[0]) if values else None


def licence_from_metadata(metadata: PackageMetadata) -> str | None:
    """Identify a distribution's licence expression from its core metadata (see module docstring)."""
    expression = metadata_field(metadata, "License-Expression")
    if expression:
        return normalise_expression(expression) or expression.strip()
    field = (metadata_field(metadata, "License") or "").strip()
    if field and len(field) <= _MAX_LICENSE_FIELD and "\n" not in field:
        normalised = normalise_expression(field)
        if normalised is not None:
            return normalised
    mapped = sorted(
        {m for c in metadata.get_all("Classifier") or [] if (m := classifier_licence(c)) is not None}
    )
    if mapped:
        return " AND ".join(mapped)
    return None


def licence_ids(expression: str) -> list[str]:
    """The licence identifiers in ``expression`` (exception names after ``WITH`` excluded)."""
    ids: list[str] = []
    previous = ""
    for token in _TOKEN.findall(expression):
        if token not in ("(", ")", "AND", "OR", "WITH") and previous != "WITH":
            ids.append(token)
        previous = token
    return ids


@dataclass(frozen=True, slots=True)
class AllowList:
    """Licences accepted without review; entries may be ``fnmatch`` globs such as ``LGPL-*``."""

    patterns: tuple[str, ...] = DEFAULT_ALLOW

    @classmethod
    def of(cls, extra: Iterable[str] = (), *, include_defaults: bool = True) -> AllowList:
        """The default list (unless ``include_defaults`` is false) plus ``extra`` entries."""
        base = DEFAULT_ALLOW if include_defaults else ()
        return cls(tuple(dict.fromkeys((*base, *extra))))

    def allows_id(self, licence: str) -> bool:
        """Whether one licence identifier matches an entry (case-sensitive, as SPDX ids are)."""
        return any(fnmatch.fnmatchcase(licence, p) for p in self.patterns)

    def allows(self, expression: str | None) -> bool:
        """Evaluate an expression: ``OR`` needs one allowed side, ``AND`` both; ``None`` is never allowed."""
        if not expression:
            return False
        tokens = [t for t in _TOKEN.findall(expression)]
        try:
            result, rest = self._or(tokens)
        except (IndexError, ValueError):
            return False
        return result and not rest

    def _or(self, tokens: list[str]) -> tuple[bool, list[str]]:
        left, tokens = self._and(tokens)
        while tokens and tokens[0] == "OR":
            right, tokens = self._and(tokens[1:])
            left = left or right
        return left, tokens

    def _and(self, tokens: list[str]) -> tuple[bool, list[str]]:
        left, tokens = self._atom(tokens)
        while tokens and tokens[0] == "AND":
            right, tokens = self._atom(tokens[1:])
            left = left and right
        return left, tokens

    def _atom(self, tokens: list[str]) -> tuple[bool, list[str]]:
        head, tokens = tokens[0], tokens[1:]
        if head == "(":
            value, tokens = self._or(tokens)
            if not tokens or tokens[0] != ")":
                raise ValueError("unbalanced parentheses in licence expression")
            return value, tokens[1:]
        if head in (")", "AND", "OR", "WITH"):
            raise ValueError(f"unexpected {head!r} in licence expression")
        if tokens and tokens[0] == "WITH":
            tokens = tokens[2:]
        return self.allows_id(head), tokens
