"""The autoscaler loop tests use the model-service app fixtures."""

from __future__ import annotations

from tests.inference.modelservice.conftest import fake_model_dir, ms_admin, ms_app

__all__ = ["fake_model_dir", "ms_admin", "ms_app"]
