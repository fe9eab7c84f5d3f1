"""Property: whatever the interleaving and the agent's timing, every message is answered once,
and each conversation's replies come in its arrival order."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_runner import AgentContext, InMemoryStore, Message
from connectors.inmemory import InMemoryConnector
from tests.runner.support import make, running

messages = st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 5)),  # (conversation, agent yields)
    min_size=1,
    max_size=40,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages, st.integers(1, 4))
def test_each_message_answered_once_in_order_per_conversation(
    plan: list[tuple[int, int]], max_concurrency: int
) -> None:
    async def scenario() -> list[tuple[str, str]]:
        chat = InMemoryConnector()

        async def agent(message: Message, context: AgentContext) -> str:
            for _ in range(int(message.metadata["yields"])):  # type: ignore[arg-type]
                await asyncio.sleep(0)
            return message.text

        runtime = make(
            [chat], [chat], agent, store=InMemoryStore(), max_concurrency=max_concurrency
        )
        async with running(runtime):
            await asyncio.gather(
                *(
                    chat.push(str(n), conversation_id=f"c{c}", metadata={"yields": y})
                    for n, (c, y) in enumerate(plan)
                )
            )
            sent = await chat.wait_for_replies(len(plan))
        return [(m.conversation_id, r.text) for m, r in sent]

    sent = asyncio.run(scenario())
    assert sorted(int(text) for _, text in sent) == list(range(len(plan)))
    for c in {c for c, _ in plan}:
        mine = [int(text) for conv, text in sent if conv == f"c{c}"]
        assert mine == sorted(mine)
