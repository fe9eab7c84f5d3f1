"""The runtime contract, run against SingleThreadedAgentRuntime."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from agent_runner.core import (
    AccessPolicy,
    InterventionHandler,
    MessageRuntime,
    SingleThreadedAgentRuntime,
)
from tests.core.contract import RuntimeContract, RuntimeFactory


async def _shutdown(runtime: SingleThreadedAgentRuntime) -> None:
    await runtime.close()


class TestSingleThreadedRuntime(RuntimeContract):
    @pytest.fixture
    async def runtime(self) -> AsyncIterator[MessageRuntime]:
        runtime = SingleThreadedAgentRuntime()
        runtime.start()
        yield runtime
        await _shutdown(runtime)

    @pytest.fixture
    async def runtime_factory(self) -> AsyncIterator[RuntimeFactory]:
        made: list[SingleThreadedAgentRuntime] = []

        async def make(
            handlers: list[InterventionHandler],
            *,
            ignore_unhandled_exceptions: bool = True,
            access_policy: AccessPolicy | None = None,
        ) -> MessageRuntime:
            runtime = SingleThreadedAgentRuntime(
                intervention_handlers=handlers,
                ignore_unhandled_exceptions=ignore_unhandled_exceptions,
                access_policy=access_policy,
            )
            runtime.start()
            made.append(runtime)
            return runtime

        yield make
        for runtime in made:
            await _shutdown(runtime)


def test_satisfies_the_protocol() -> None:
    assert isinstance(SingleThreadedAgentRuntime(), MessageRuntime)


class TestSingleThreadedRuntimeWithDeactivation(TestSingleThreadedRuntime):
    """The same contract while agents are deactivated aggressively (one live agent)."""

    @pytest.fixture
    async def runtime(self) -> AsyncIterator[MessageRuntime]:
        runtime = SingleThreadedAgentRuntime(max_active_agents=1)
        runtime.start()
        yield runtime
        await _shutdown(runtime)
