"""Session fixtures shared by every inference test (registered in tests/conftest.py).

A tiny Llama built once per session and one builtin-engine replica serving it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from inference.engines.base import Replica, ReplicaSpec
from inference.engines.builtin.engine import BuiltinEngine
from inference.engines.settings import EngineSettings
from inference.tinymodel.builder import build_tiny_llama

SERVED_NAME = "tiny-test"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Llama trained for a few steps (enough for a valid, loadable model)."""
    path = tmp_path_factory.mktemp("engines-model") / "tiny"
    build_tiny_llama(path, train_steps=20)
    return path


@pytest.fixture(scope="session")
def engine_settings(tmp_path_factory: pytest.TempPathFactory) -> EngineSettings:
    """Settings with logs in a temp dir and one torch thread per replica (2-core machines)."""
    return EngineSettings(builtin_threads=1, engine_log_dir=tmp_path_factory.mktemp("engine-logs"))


@pytest.fixture(scope="session")
def builtin_replica(tiny_model_dir: Path, engine_settings: EngineSettings) -> Iterator[Replica]:
    """A real builtin-engine process serving the tiny model for the whole session."""
    engine = BuiltinEngine(engine_settings)
    spec = ReplicaSpec(model=str(tiny_model_dir), served_model_name=SERVED_NAME)
    replica = asyncio.run(engine.start(spec))
    yield replica
    asyncio.run(engine.stop(replica))
