"""Evaluation over HTTP: the API reports exactly what the library computes; bad bodies are named."""

from __future__ import annotations

import json

import pytest

from security.crypto.sm3 import sm3_hex
from security.safety.evaluate import evaluate, load_examples
from security.safety.packs import compile_pack
from security.safety.rules import load_pack
from services.kernel.errors import PayloadTooLarge
from services.safety.app import DEMO_PACK
from services.safety.errors import Unprocessable
from services.safety.evaluation import MAX_EXAMPLES, MAX_LABELLED_BYTES, parse_labelled
from tests.services.builders import ok
from tests.services.safety.builders import SafetyTenant, audit_details

DEMO_LABELLED = DEMO_PACK.with_name("demo-labelled.jsonl")


async def test_evaluation_of_the_platform_pack_matches_the_library(safety: SafetyTenant) -> None:
    admin = safety.as_("tenant-admin")
    platform = await ok(await admin.get("/v1/safety/active-pack"))
    body = DEMO_LABELLED.read_bytes()
    response = await admin.post(
        f"{safety.base}/packs/{platform['pack']['id']}/evaluate",
        content=body,
        headers={"Content-Type": "application/x-ndjson"},
    )
    report = await ok(response)
    expected = evaluate(load_examples(DEMO_LABELLED), pack=compile_pack(load_pack(DEMO_PACK))).as_dict()
    assert {k: report[k] for k in expected} == expected
    assert report["examples"] == 66 and 0.0 < report["overall"]["recall"] <= 1.0
    assert report["labelled_sm3"] == sm3_hex(body)

    audited = await audit_details(admin, safety.id, "safety.evaluate")
    assert [(a["labelled_sm3"], a["examples"]) for a in audited] == [(sm3_hex(body), 66)]
    assert audited[0]["overall"] == {k: expected["overall"][k] for k in ("tp", "fp", "fn")}

    bad = await admin.post(
        f"{safety.base}/packs/{platform['pack']['id']}/evaluate", content=b'{"text": "x"}\n{"labels": []}'
    )
    assert bad.status_code == 422
    assert [p["field"] for p in bad.json()["detail"]] == ["line 1", "line 2"]
    viewer = await safety.as_("viewer").post(
        f"{safety.base}/packs/{platform['pack']['id']}/evaluate", content=body
    )
    assert viewer.status_code == 403


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        (b'{"text": "a", "labels": "x"}', "line 1", "field 'labels' must be a list"),
        (b'\n\n{"text": 1, "labels": []}', "line 3", "field 'text' must be a str"),
        (b'{"text": "a", "labels": [], "action": "nuke"}', "line 1", "'nuke' is not a valid Action"),
        (b"not json", "line 1", "not JSON"),
        (b'{"text": "a\\ud800", "labels": []}', "line 1", "lone surrogate"),
        (b"", "<body>", "no examples"),
        (b"\xff", "<body>", "not UTF-8"),
        (json.dumps({"text": "x" * 40_000, "labels": []}).encode(), "line 1", "longer than"),
        (b'{"text": "a", "labels": []}\n' * (MAX_EXAMPLES + 1), "<body>", f"at most {MAX_EXAMPLES} examples"),
    ],
)
def test_malformed_labelled_sets_name_the_line(body: bytes, field: str, problem: str) -> None:
    with pytest.raises(Unprocessable) as caught:
        parse_labelled(body)
    assert caught.value.detail[0]["field"] == field
    assert problem in caught.value.detail[0]["problem"]


def test_an_oversized_labelled_set_is_413() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_labelled(b" " * (MAX_LABELLED_BYTES + 1))
