"""Engine settings, read from the environment with the ``STIC_`` prefix."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]


class EngineSettings(BaseSettings):
    """Where the engines find their interpreters and how long they wait for a replica."""

    model_config = SettingsConfigDict(env_prefix="STIC_", extra="ignore")

    vllm_python: Path = Field(
        default=REPO_ROOT / ".venv-vllm" / "bin" / "python",
        description="Interpreter of the vLLM virtualenv (created by `make vllm-env`).",
    )
    vllm_startup_timeout_s: float = Field(default=600.0, gt=0, description="vLLM on CPU is ready in ~100 s.")
    vllm_cpu_kvcache_space_gib: int = Field(
        default=1, ge=1, description="VLLM_CPU_KVCACHE_SPACE for CPU builds."
    )
    vllm_max_model_len: int = Field(default=512, ge=16)
    vllm_dtype: str = "float32"
    builtin_startup_timeout_s: float = Field(default=180.0, gt=0)
    builtin_threads: int | None = Field(
        default=None, ge=1, description="torch intra-op threads per builtin replica."
    )
    engine_log_dir: Path = Field(default=REPO_ROOT / "var" / "engines", description="Replica log files.")
