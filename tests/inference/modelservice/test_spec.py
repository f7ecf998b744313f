"""What a replica job runs: engine command lines, environment and the job around them (pure)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from inference.engines.errors import EngineConfigError
from inference.engines.settings import REPO_ROOT, EngineSettings
from inference.modelservice.models import ModelService
from inference.modelservice.spec import replica_command, replica_env, replica_job, replica_threads


def service(engine: str, model_dir: Path, **extra: object) -> ModelService:
    values: dict[str, object] = {
        "id": "msv_" + "a" * 32,
        "name": "chat-" + "x" * 60,
        "project_id": "prj_" + "b" * 32,
        "engine": engine,
        "served_model_name": "tiny",
        "model_dir": str(model_dir),
        "resources": {"cpu_milli": 2500, "memory_mib": 1024, "accelerators": None},
        "queue": "default",
        "engine_args": ["--max-num-seqs", "2"],
    }
    values.update(extra)
    return ModelService(**values)


def test_builtin_command_serves_on_the_chosen_port(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    argv = replica_command(service("builtin", tmp_path), host="127.0.0.1", port=23456)
    assert argv[:3] == [sys.executable, "-m", "inference.engines.builtin"]
    assert argv[argv.index("--model") + 1] == str(tmp_path)
    assert argv[argv.index("--threads") + 1] == "2", "threads follow the CPU granted"
    assert argv[-6:] == ["--host", "127.0.0.1", "--port", "23456", "--max-num-seqs", "2"]


def test_vllm_command_uses_the_vllm_interpreter_and_kv_cache_setting(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    python = tmp_path / "python"
    python.write_text("")
    settings = EngineSettings(vllm_python=python, vllm_cpu_kvcache_space_gib=2)
    svc = service("vllm", tmp_path, engine_args=[])
    argv = replica_command(svc, host="127.0.0.1", port=8001, settings=settings)
    assert argv[:3] == [str(python), "-m", "vllm.entrypoints.openai.api_server"]
    assert argv[argv.index("--served-model-name") + 1] == "tiny"
    assert replica_env(svc, settings)["VLLM_CPU_KVCACHE_SPACE"] == "2"


def test_missing_model_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(EngineConfigError):
        replica_command(service("builtin", tmp_path / "absent"), host="127.0.0.1", port=1)


def test_replica_job_is_an_inference_job_restarted_in_place(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    accelerators = {
        "count": 1,
        "types": ["Ascend910B"],
        "mode": "shared",
        "compute_milli": 250,
        "memory_mib": 4096,
    }
    svc = service(
        "builtin", tmp_path, resources={"cpu_milli": 1000, "memory_mib": 2048, "accelerators": accelerators}
    )
    job = replica_job(svc, ordinal=3, host="127.0.0.1", port=20001, max_retries=7)
    assert job.type.value == "inference" and not job.preemptible
    assert job.recovery.policy.value == "restart_in_place" and job.recovery.max_retries == 7
    assert len(job.name) <= 63 and "-r3-" in job.name
    [group] = job.groups
    assert (group.replicas, group.cpu_milli, group.memory_mib) == (1, 1000, 2048)
    assert group.accelerators is not None and group.accelerators.types == ["Ascend910B"]
    assert group.accelerators.compute_milli == 250
    assert group.env["PYTHONPATH"] == str(REPO_ROOT) and group.env["STIC_MODEL_SERVICE"] == svc.id


@pytest.mark.parametrize(("cpu_milli", "threads"), [(100, 1), (1000, 1), (1999, 1), (4000, 4)])
def test_replica_threads(cpu_milli: int, threads: int) -> None:
    assert replica_threads(cpu_milli) == threads
