"""The worker against a scripted control plane and upstream (httpx.MockTransport)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from inference.batches.worker import REPORT_MAX_BYTES, WorkerConfig, parse_args, run

BATCH = "bat_" + "1" * 32


@dataclass
class FakePlatform:
    """Control plane + upstream: records what the worker sends; fails as scripted."""

    lines: list[dict[str, Any]]
    status: str = "in_progress"
    stop_after: int | None = None  # answer the report that reaches this many results with "cancelled"
    upstream_failures: dict[str, int] = field(default_factory=dict)  # custom id → 503s before success
    control_failures: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)
    upstream_calls: list[str] = field(default_factory=list)
    auth: set[str] = field(default_factory=set)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.auth.add(request.headers.get("authorization", ""))
        if request.url.host == "control.test":
            return self._control(request)
        body = json.loads(request.content)
        cid = body["messages"][0]["content"]
        self.upstream_calls.append(cid)
        if self.upstream_failures.get(cid, 0) > 0:
            self.upstream_failures[cid] -= 1
            return httpx.Response(503, json={"error": {"message": "busy"}})
        if cid == "bad":
            return httpx.Response(
                400, json={"error": {"message": "bad request", "type": "invalid_request_error"}}
            )
        return httpx.Response(
            200,
            json={"choices": [{"message": {"content": f"answer {cid}"}}]},
            headers={"x-request-id": f"q-{cid}"},
        )

    def _control(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/pending"):
            body = "".join(json.dumps(line) + "\n" for line in self.lines)
            return httpx.Response(200, text=body, headers={"x-batch-status": self.status})
        if self.control_failures > 0:
            self.control_failures -= 1
            return httpx.Response(503, json={"error": "unavailable"})
        self.results += json.loads(request.content)["results"]
        status = (
            "cancelled"
            if self.stop_after is not None and len(self.results) >= self.stop_after
            else self.status
        )
        return httpx.Response(200, json={"status": status})


def _lines(*ids: str) -> list[dict[str, Any]]:
    return [
        {
            "line": i + 1,
            "custom_id": cid,
            "url": "/v1/chat/completions",
            "body": {"model": "m", "messages": [{"role": "user", "content": cid}]},
        }
        for i, cid in enumerate(ids)
    ]


def _config(**overrides: Any) -> WorkerConfig:
    values: dict[str, Any] = {
        "batch_id": BATCH,
        "control_url": "http://control.test",
        "inference_url": "http://upstream.test/v1",
        "token": "stic_0123456789abcdef_secret",
        "concurrency": 3,
        "backoff_s": 0.001,
    }
    values.update(overrides)
    return WorkerConfig(**values)


async def test_every_line_is_sent_and_reported_once_with_retries() -> None:
    fake = FakePlatform(_lines("a", "b", "c", "bad", "e"), upstream_failures={"b": 2}, control_failures=1)
    assert await run(_config(), transport=httpx.MockTransport(fake.handle)) == 0
    by_id = {r["custom_id"]: r for r in fake.results}
    assert sorted(by_id) == ["a", "b", "bad", "c", "e"] and len(fake.results) == 5
    assert by_id["b"]["status_code"] == 200 and fake.upstream_calls.count("b") == 3
    assert by_id["a"]["body"]["choices"][0]["message"]["content"] == "answer a"
    assert by_id["a"]["request_id"] == "q-a" and by_id["a"]["line"] == 1
    assert by_id["bad"]["status_code"] == 400  # a client error is a result, not retried
    assert fake.upstream_calls.count("bad") == 1
    assert fake.auth == {"Bearer stic_0123456789abcdef_secret"}


async def test_persistent_upstream_failure_is_reported_as_an_error() -> None:
    fake = FakePlatform(_lines("a"), upstream_failures={"a": 99})
    await run(_config(attempts=3), transport=httpx.MockTransport(fake.handle))
    assert fake.upstream_calls == ["a", "a", "a"]
    assert fake.results[0]["status_code"] == 503


async def test_unreachable_upstream_is_reported_as_unavailable() -> None:
    fake = FakePlatform(_lines("a"))

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "upstream.test":
            raise httpx.ConnectError("refused", request=request)
        return fake.handle(request)

    await run(_config(attempts=2), transport=httpx.MockTransport(handler))
    assert fake.results[0]["error"]["code"] == "upstream_unavailable" and "status_code" not in fake.results[0]


async def test_worker_stops_when_the_batch_is_cancelled() -> None:
    fake = FakePlatform(_lines(*(f"x{i}" for i in range(40))), stop_after=8)
    await run(_config(concurrency=1), transport=httpx.MockTransport(fake.handle))
    assert len(fake.upstream_calls) < 40


async def test_large_answers_are_reported_in_reports_of_bounded_size() -> None:
    fake = FakePlatform(_lines(*(f"e{i}" for i in range(6))))
    big = "x" * 120_000  # six answers of this size would make one 720 KB report
    report_sizes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "control.test" and request.url.path.endswith("/results"):
            report_sizes.append(len(request.content))
        if request.url.host == "upstream.test":
            return httpx.Response(200, json={"choices": [{"message": {"content": big}}]})
        return fake.handle(request)

    await run(_config(concurrency=1), transport=httpx.MockTransport(handler))
    assert sorted(r["custom_id"] for r in fake.results) == [f"e{i}" for i in range(6)]
    assert len(report_sizes) >= 2
    assert max(report_sizes) < REPORT_MAX_BYTES + 130_000, report_sizes


async def test_nothing_is_sent_for_a_finished_batch() -> None:
    fake = FakePlatform(_lines("a"), status="cancelling")
    await run(_config(), transport=httpx.MockTransport(fake.handle))
    assert fake.upstream_calls == [] and fake.results == []


def test_token_comes_from_the_credentials_file(tmp_path: Path) -> None:
    secret = tmp_path / "runner.key"
    secret.write_text("stic_0123456789abcdef_secret\n")
    argv = [
        "--batch-id",
        BATCH,
        "--control-url",
        "http://c/",
        "--inference-url",
        "http://u/v1/",
        "--credentials",
        str(secret),
    ]
    config = parse_args(argv)
    assert config.token == "stic_0123456789abcdef_secret"
    assert (config.control_url, config.inference_url) == ("http://c", "http://u/v1")
    secret.write_text("")
    with pytest.raises(SystemExit):
        parse_args(argv)
