"""The vLLM engine's command line and settings.

A real vLLM (CPU build) serving the tiny model is tested once, as a model service's replica run by
the scheduler and called through the gateway: tests/inference/modelservice/test_vllm_service.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

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
