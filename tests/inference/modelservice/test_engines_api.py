"""``GET /v1/inference/engines``: every registered engine with its availability on this deployment."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from inference.engines.registry import engine_names
from inference.engines.settings import EngineSettings
from inference.modelservice.engines import engine_availability


def test_vllm_is_available_only_when_its_interpreter_exists(tmp_path: Path) -> None:
    missing = {e["name"]: e for e in engine_availability(EngineSettings(vllm_python=tmp_path / "none"))}
    assert missing["vllm"]["available"] is False
    assert "make vllm-env" in missing["vllm"]["reason"]
    python = tmp_path / "python"
    python.write_text("")
    present = {e["name"]: e for e in engine_availability(EngineSettings(vllm_python=python))}
    assert present["vllm"]["available"] is True and present["vllm"]["reason"] == ""
    assert present["vllm"]["kind"] == "acceleration-library"
    assert present["openai"]["kind"] == "adapter" and present["builtin"]["available"] is True


async def test_the_listing_needs_a_key_and_names_every_engine(
    ms_app: FastAPI, ms_admin: httpx.AsyncClient
) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=ms_app), base_url="http://stic.test"
    ) as anonymous:
        assert (await anonymous.get("/v1/inference/engines")).status_code == 401
    listed = await ms_admin.get("/v1/inference/engines")
    assert listed.status_code == 200
    assert sorted(e["name"] for e in listed.json()["items"]) == engine_names()
