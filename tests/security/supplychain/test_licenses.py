"""Licence identification from metadata and the allow-list policy (table-driven)."""

from __future__ import annotations

from email.message import Message

import pytest

from security.supplychain.licenses import AllowList, licence_from_metadata, licence_ids, normalise_expression


def _meta(*headers: tuple[str, str]) -> Message:
    message = Message()
    for key, value in headers:
        message[key] = value
    return message


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ((("License-Expression", "MIT OR Apache-2.0"),), "MIT OR Apache-2.0"),
        ((("License-Expression", "Apache-2.0"), ("License", "GPL")), "Apache-2.0"),
        ((("License", "Apache 2.0"),), "Apache-2.0"),
        ((("License", "MIT License"),), "MIT"),
        ((("License", "BSD-3-Clause and Public-Domain"),), "BSD-3-Clause AND LicenseRef-Public-Domain"),
        ((("License", "PSFL"),), "PSF-2.0"),
        ((("License", "GPLv2+"),), "GPL-2.0-or-later"),
        (
            (
                ("License", "Copyright (c) 2015 someone\nAll rights"),
                ("Classifier", "License :: OSI Approved :: BSD License"),
            ),
            "BSD",
        ),
        ((("Classifier", "License :: OSI Approved :: MIT License"),), "MIT"),
        (
            (
                ("Classifier", "License :: OSI Approved :: Apache Software License"),
                ("Classifier", "License :: OSI Approved :: MIT License"),
            ),
            "Apache AND MIT",
        ),
        (
            (("Classifier", "License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)"),),
            "LGPL-3.0-only",
        ),
        ((("License", "Proprietary, see LICENSE"),), None),
        ((("Classifier", "Topic :: Utilities"),), None),
        ((), None),
    ],
)
def test_licence_from_metadata(headers: tuple[tuple[str, str], ...], expected: str | None) -> None:
    assert licence_from_metadata(_meta(*headers)) == expected


@pytest.mark.parametrize(
    ("expression", "allowed"),
    [
        ("MIT", True),
        ("Apache-2.0 OR GPL-3.0-only", True),
        ("Apache-2.0 AND GPL-3.0-only", False),
        ("(MIT OR GPL-2.0-only) AND BSD-3-Clause", True),
        ("(GPL-2.0-only OR AGPL-3.0-only) AND MIT", False),
        ("LGPL-2.1-or-later", True),
        ("Apache-2.0 WITH LLVM-exception", True),
        ("GPL-2.0-only WITH Classpath-exception-2.0", False),
        ("SSPL-1.0", False),
        ("MIT AND", False),
        ("(MIT", False),
        ("", False),
        (None, False),
    ],
)
def test_default_allow_list(expression: str | None, allowed: bool) -> None:
    assert AllowList.of().allows(expression) is allowed


def test_allow_list_can_be_extended_or_replaced() -> None:
    assert AllowList.of(["GPL-*"]).allows("GPL-3.0-only")
    assert not AllowList.of(["GPL-*"], include_defaults=False).allows("MIT")


def test_normalise_and_ids() -> None:
    assert normalise_expression("mit or apache 2.0") is None  # multi-word alias inside an expression
    assert normalise_expression("MIT or Apache-2.0") == "MIT OR Apache-2.0"
    assert licence_ids("(MIT OR Apache-2.0 WITH LLVM-exception) AND ISC") == ["MIT", "Apache-2.0", "ISC"]
