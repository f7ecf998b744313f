"""The batch worker, run by the scheduler: ``python -m inference.batches.worker --batch-id ID ...``.

It asks the control plane for the batch's lines without a result (``GET /v1/batches/{id}/pending``),
sends each to the OpenAI-compatible ``--inference-url`` (a few at a time), and reports every
answer to ``POST /v1/batches/{id}/results``, where it is recorded once per ``custom_id``. A
restarted worker therefore resumes where the last one stopped. Transient failures (connection
errors, 429, 502–504) are retried with backoff; a line that still fails is reported as failed.
A report answered with a status other than ``in_progress`` (cancelled, expired) stops the worker.
Progress is printed as ``STIC_PROGRESS <fraction>`` for the scheduler.

The API token is read from the ``--credentials`` file (never from the command line or environment).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
REPORT_EVERY = 8
# A report also goes as soon as its results pass this size, so one report stays far below the
# control plane's upload limit even for large answers (embeddings of many inputs).
REPORT_MAX_BYTES = 256 * 1024
REPORT_INTERVAL_S = 0.5


@dataclass
class WorkerConfig:
    """What the worker needs to run one batch."""

    batch_id: str
    control_url: str
    inference_url: str
    token: str
    concurrency: int = 4
    timeout_s: float = 600.0
    attempts: int = 5
    backoff_s: float = 0.5
    control_patience_s: float = 600.0


class BatchStopped(Exception):
    """The control plane says the batch no longer runs (cancelled, expired, finalised)."""


@dataclass
class _Reporter:
    """Buffers results and posts them to the control plane, retrying until it answers."""

    client: httpx.AsyncClient
    config: WorkerConfig
    total: int
    pending: list[dict[str, Any]] = field(default_factory=list)
    pending_bytes: int = 0
    reported: int = 0
    stopped: str | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def add(self, result: dict[str, Any]) -> None:
        self.pending.append(result)
        self.pending_bytes += len(json.dumps(result, separators=(",", ":")))
        if len(self.pending) >= REPORT_EVERY or self.pending_bytes >= REPORT_MAX_BYTES:
            await self.flush()

    async def flush(self) -> None:
        async with self.lock:
            if not self.pending:
                return
            batch, self.pending, self.pending_bytes = self.pending, [], 0
            status = await self._post(batch)
            self.reported += len(batch)
            print(f"STIC_PROGRESS {self.reported / max(1, self.total):.4f}", flush=True)
            if status != "in_progress":
                self.stopped = status
                raise BatchStopped(status)

    async def _post(self, results: list[dict[str, Any]]) -> str:
        url = f"{self.config.control_url}/v1/batches/{self.config.batch_id}/results"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.control_patience_s
        delay = self.config.backoff_s
        while True:
            try:
                response = await self.client.post(url, json={"results": results})
                if response.status_code == 200:
                    return str(response.json()["status"])
                if response.status_code not in (409, *RETRY_STATUS):
                    raise RuntimeError(f"results rejected: {response.status_code} {response.text[:300]}")
            except httpx.TransportError as exc:
                print(f"control plane unreachable ({type(exc).__name__}); retrying", flush=True)
            if loop.time() > deadline:
                raise RuntimeError("the control plane did not take the results in time")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


async def _send(client: httpx.AsyncClient, config: WorkerConfig, line: dict[str, Any]) -> dict[str, Any]:
    """One request line → its result (``status_code``/``body`` or ``error``)."""
    path = str(line["url"]).removeprefix("/v1")
    result: dict[str, Any] = {"custom_id": line["custom_id"], "line": line["line"]}
    delay = config.backoff_s
    for attempt in range(1, config.attempts + 1):
        try:
            response = await client.post(f"{config.inference_url}{path}", json=line["body"])
        except httpx.TransportError as exc:
            if attempt == config.attempts:
                result["error"] = {
                    "code": "upstream_unavailable",
                    "message": f"{type(exc).__name__}: {exc}"[:500],
                }
                return result
        else:
            if response.status_code not in RETRY_STATUS or attempt == config.attempts:
                try:
                    body = response.json()
                except ValueError:
                    body = {"error": {"message": response.text[:1000]}}
                result["status_code"] = response.status_code
                result["request_id"] = response.headers.get("x-request-id")
                result["body"] = body if isinstance(body, dict) else {"value": body}
                return result
        await asyncio.sleep(delay * (1 + random.random() / 2))
        delay = min(delay * 2, 30.0)
    raise AssertionError("unreachable")


async def fetch_pending(client: httpx.AsyncClient, config: WorkerConfig) -> tuple[str, list[dict[str, Any]]]:
    """The batch status and its lines without a result."""
    response = await client.get(f"{config.control_url}/v1/batches/{config.batch_id}/pending")
    response.raise_for_status()
    lines = [json.loads(raw) for raw in response.text.splitlines() if raw.strip()]
    return response.headers.get("x-batch-status", ""), lines


async def run(config: WorkerConfig, *, transport: httpx.AsyncBaseTransport | None = None) -> int:
    """Process the batch; 0 when every pending line is reported (or the batch stopped), else raises."""
    headers = {"Authorization": f"Bearer {config.token}"}
    timeout = httpx.Timeout(config.timeout_s, connect=10.0)
    async with httpx.AsyncClient(headers=headers, timeout=timeout, transport=transport) as client:
        status, lines = await fetch_pending(client, config)
        print(f"batch {config.batch_id}: {status}, {len(lines)} line(s) to do", flush=True)
        if status != "in_progress" or not lines:
            return 0
        reporter = _Reporter(client, config, total=len(lines))
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for line in lines:
            queue.put_nowait(line)

        async def work() -> None:
            while reporter.stopped is None:
                try:
                    line = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await reporter.add(await _send(client, config, line))

        async def tick() -> None:
            while True:
                await asyncio.sleep(REPORT_INTERVAL_S)
                print("STIC_HEARTBEAT", flush=True)
                await reporter.flush()

        ticker = asyncio.create_task(tick())
        try:
            await asyncio.gather(*(work() for _ in range(min(config.concurrency, len(lines)))))
            await reporter.flush()
        except BatchStopped as stopped:
            print(f"batch {config.batch_id} is {stopped}; stopping", flush=True)
        finally:
            ticker.cancel()
            try:
                await ticker
            except BatchStopped as stopped:
                print(f"batch {config.batch_id} is {stopped}; stopping", flush=True)
            except asyncio.CancelledError:
                pass
    return 0


def parse_args(argv: Sequence[str]) -> WorkerConfig:
    """The worker's configuration from its command line and credentials file."""
    parser = argparse.ArgumentParser(
        prog="python -m inference.batches.worker", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--batch-id", required=True)
    parser.add_argument(
        "--control-url", required=True, help="the platform's URL (results are reported there)"
    )
    parser.add_argument("--inference-url", required=True, help="OpenAI-compatible base URL ending in /v1")
    parser.add_argument(
        "--credentials", required=True, type=Path, help="file holding the API token (mode 0600)"
    )
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per request")
    args = parser.parse_args(argv)
    token = args.credentials.read_text().strip()
    if not token:
        parser.error(f"{args.credentials} is empty")
    return WorkerConfig(
        batch_id=args.batch_id,
        control_url=args.control_url.rstrip("/"),
        inference_url=args.inference_url.rstrip("/"),
        token=token,
        concurrency=max(1, args.concurrency),
        timeout_s=args.timeout,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    config = parse_args(sys.argv[1:] if argv is None else argv)
    return asyncio.run(run(config))


if __name__ == "__main__":
    sys.exit(main())
