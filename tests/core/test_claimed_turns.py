"""Claimed turns (``claim_turn`` / ``release_turn``): a caller runs a live agent's turn in its
own task, and the runtime's guarantees around that agent still hold."""

from __future__ import annotations

import asyncio
from contextvars import Context

from agent_runner.core import (
    AgentId,
    DefaultInterventionHandler,
    MessageContext,
    RoutedAgent,
    SingleThreadedAgentRuntime,
    rpc,
)


class Recorder(RoutedAgent):
    def __init__(self) -> None:
        super().__init__("records what it handles")
        self.seen: list[str] = []

    @rpc
    async def on_text(self, message: str, ctx: MessageContext) -> str:
        self.seen.append(message)
        return message.upper()


async def live_recorder(runtime: SingleThreadedAgentRuntime) -> tuple[AgentId, Recorder]:
    await Recorder.register(runtime, "recorder", Recorder)
    agent_id = AgentId("recorder", "k")
    assert await runtime.send_message("first", agent_id) == "FIRST"  # now live
    return agent_id, await runtime.try_get_underlying_agent_instance(agent_id, Recorder)


async def test_a_message_sent_during_a_claimed_turn_waits_for_its_release() -> None:
    runtime = SingleThreadedAgentRuntime()
    runtime.start()
    agent_id, agent = await live_recorder(runtime)
    claimed = runtime.claim_turn(agent_id)
    assert claimed is agent
    assert runtime.claim_turn(agent_id) is None  # one turn at a time
    # Another sender (a fresh context: a task started inside the turn would be its call
    # chain, which runs inline)
    sent = asyncio.create_task(runtime.send_message("second", agent_id), context=Context())
    await asyncio.sleep(0.01)
    assert agent.seen == ["first"]  # queued behind the claimed turn
    agent.seen.append("claimed")
    runtime.release_turn(agent_id)
    assert await sent == "SECOND"
    assert agent.seen == ["first", "claimed", "second"]
    await runtime.stop_when_idle()


async def test_a_claimed_agent_is_not_deactivated_while_its_turn_runs() -> None:
    runtime = SingleThreadedAgentRuntime(idle_timeout=0.01)
    runtime.start()
    agent_id, agent = await live_recorder(runtime)
    assert runtime.claim_turn(agent_id) is agent
    await asyncio.sleep(0.05)  # several idle sweeps
    assert runtime.active_agents_count == 1
    runtime.release_turn(agent_id)
    async with asyncio.timeout(5):
        while runtime.active_agents_count:  # noqa: ASYNC110 - the idle sweep has no event
            await asyncio.sleep(0.01)
    assert runtime.claim_turn(agent_id) is None  # not live: send to it instead
    await runtime.stop()


async def test_no_claimed_turn_when_interventions_see_every_message() -> None:
    runtime = SingleThreadedAgentRuntime(intervention_handlers=[DefaultInterventionHandler()])
    runtime.start()
    agent_id, _ = await live_recorder(runtime)
    assert runtime.claim_turn(agent_id) is None
    await runtime.stop()
    assert runtime.claim_turn(agent_id) is None  # stopped
