"""The core runtime contract, run against DistributedAgentRuntime on a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from agent_runner.core import AccessPolicy, InterventionHandler, MessageRuntime
from agent_runner.distributed import DistributedAgentRuntime
from tests.core.contract import RuntimeContract, RuntimeFactory

FAST = {"heartbeat_interval": 0.1, "heartbeat_ttl": 1.0, "partitions": 4, "rpc_timeout": 10.0}


class TestDistributedRuntime(RuntimeContract):
    @pytest.fixture
    async def runtime(self, redis_url: str, redis_prefix: str) -> AsyncIterator[MessageRuntime]:
        runtime = DistributedAgentRuntime(redis_url, prefix=redis_prefix, **FAST)  # type: ignore[arg-type]
        runtime.start()
        yield runtime
        await runtime.close()

    @pytest.fixture
    async def runtime_factory(
        self, redis_url: str, redis_prefix: str
    ) -> AsyncIterator[RuntimeFactory]:
        made: list[DistributedAgentRuntime] = []

        async def make(
            handlers: list[InterventionHandler],
            *,
            ignore_unhandled_exceptions: bool = True,
            access_policy: AccessPolicy | None = None,
        ) -> MessageRuntime:
            runtime = DistributedAgentRuntime(
                redis_url,
                prefix=f"{redis_prefix}:{len(made)}",
                intervention_handlers=handlers,
                ignore_unhandled_exceptions=ignore_unhandled_exceptions,
                access_policy=access_policy,
                **FAST,  # type: ignore[arg-type]
            )
            runtime.start()
            made.append(runtime)
            return runtime

        yield make
        for runtime in made:
            await runtime.close()
