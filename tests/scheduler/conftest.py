"""Shared fixtures for scheduler tests; builders live in :mod:`scheduler.testing`."""

from __future__ import annotations

import pytest

from scheduler.model import Inventory
from scheduler.testing import make_inventory, make_node


@pytest.fixture
def two_nodes() -> Inventory:
    """Two 8-GPU A100 nodes on one leaf."""
    return make_inventory([make_node("n0"), make_node("n1")])
