"""Fixtures: both embedded stores (as the runner's tests) and Redis (as the distributed ones)."""

from tests.distributed.conftest import redis_prefix, redis_server_url, redis_url
from tests.runner.conftest import store

__all__ = ["redis_prefix", "redis_server_url", "redis_url", "store"]
