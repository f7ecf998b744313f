"""A small synthetic openb-format trace written per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.simulator.traces.synthetic import write_synthetic_openb


@pytest.fixture(scope="session")
def synthetic_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder with a synthetic 24-node, 300-pod openb-format trace."""
    return write_synthetic_openb(tmp_path_factory.mktemp("openb"))
