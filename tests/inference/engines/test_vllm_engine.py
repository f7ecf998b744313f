"""The vLLM engine: its command line, and a real vLLM (CPU build) serving the tiny model.

The real test needs ``.venv-vllm`` (``make vllm-env``). Without it the test skips, except under
``CI=true`` where it fails: CI creates the virtualenv.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from inference.engines.base import ReplicaSpec
from inference.engines.errors import EngineConfigError
from inference.engines.settings import EngineSettings
from inference.engines.vllm_engine import VLLMEngine


def test_command_uses_the_module_entry_point_and_cpu_settings(tiny_model_dir: Path, tmp_path: Path) -> None:
    python = tmp_path / "python"
    python.touch()
    engine = VLLMEngine(EngineSettings(vllm_python=python, vllm_cpu_kvcache_space_gib=2))
    argv = engine.command(ReplicaSpec(model=str(tiny_model_dir), served_model_name="tiny"))
    assert argv == [
        str(python), "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(tiny_model_dir), "--served-model-name", "tiny",
        "--dtype", "float32", "--max-model-len", "512",
    ]  # fmt: skip
    assert engine.environment() == {"VLLM_CPU_KVCACHE_SPACE": "2"}


def test_missing_virtualenv_says_how_to_create_it(tiny_model_dir: Path, tmp_path: Path) -> None:
    engine = VLLMEngine(EngineSettings(vllm_python=tmp_path / "nowhere" / "python"))
    with pytest.raises(EngineConfigError, match="make vllm-env"):
        engine.command(ReplicaSpec(model=str(tiny_model_dir), served_model_name="tiny"))


def test_interpreter_path_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STIC_VLLM_PYTHON", str(tmp_path / "py"))
    assert EngineSettings().vllm_python == tmp_path / "py"


def _require_vllm_env(settings: EngineSettings) -> None:
    if settings.vllm_python.is_file():
        return
    reason = f"{settings.vllm_python} does not exist; create it with `make vllm-env`"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the vLLM virtualenv is required under CI=true: {reason}")
    pytest.skip(reason)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_real_vllm_serves_the_tiny_model(tiny_model_dir: Path, engine_settings: EngineSettings) -> None:
    settings = EngineSettings(engine_log_dir=engine_settings.engine_log_dir)
    _require_vllm_env(settings)
    engine = VLLMEngine(settings)
    replica = asyncio.run(engine.start(ReplicaSpec(model=str(tiny_model_dir), served_model_name="tiny-vllm")))
    try:
        client = openai.OpenAI(base_url=replica.api_base, api_key="unused", max_retries=0)
        assert [m.id for m in client.models.list()] == ["tiny-vllm"]
        kwargs = {
            "model": "tiny-vllm",
            "messages": [{"role": "user", "content": "What does a gateway do?"}],
            "temperature": 0,
            "max_tokens": 12,
        }
        whole = client.chat.completions.create(**kwargs)  # type: ignore[call-overload]
        assert whole.usage.completion_tokens >= 1
        chunks = list(
            client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True})  # type: ignore[call-overload]
        )
        pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
        assert len(pieces) > 1, "vLLM must stream several chunks"
        assert "".join(pieces) == whole.choices[0].message.content
        assert chunks[-1].usage is not None
        assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(**{**kwargs, "model": "other"})  # type: ignore[call-overload]
        assert replica.metrics_url is not None
        names = {f.name for f in text_string_to_metric_families(httpx.get(replica.metrics_url).text)}
        assert {"vllm:num_requests_waiting", "vllm:kv_cache_usage_perc", "vllm:num_requests_running"} <= names
    finally:
        asyncio.run(engine.stop(replica))
    assert replica.process is not None and replica.process.returncode is not None
