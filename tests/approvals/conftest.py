"""Fixtures: the approval tests run on both embedded stores (as the runner's do)."""

from tests.runner.conftest import store

__all__ = ["store"]
