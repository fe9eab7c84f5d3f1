"""Double texting end to end: a second message arriving while the first one's turn runs, under
each policy, with the real runner, both embedded stores and (for interrupt) a real model
client against the local OpenAI-compatible server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agent_runner import AgentContext, AgentRuntime, ConfigurationError, Message, ShortTermMemory
from agent_runner.llm import ChatMessage, Completion, LLMAgent, OpenAIClient
from agent_runner.runner import DEFAULT_BUSY_REPLY, DoubleTexting
from agent_runner.store import Store
from connectors.inmemory import InMemoryConnector
from tests.llm.openai_server import Answer, OpenAIServer, text
from tests.runner.support import make, running


class Blocking:
    """An agent whose first turn waits for ``release`` (recording a cancellation); every turn
    records what it saw: the message, ``context.merged`` and the memory's user texts."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.cancelled: list[str] = []
        self.turns: list[tuple[str, list[str], list[str]]] = []

    async def execute(self, message: Message, context: AgentContext) -> str:
        remembered = [i.text for i in context.memory.messages if i.role == "user"]
        self.turns.append((message.text, [m.text for m in context.merged], remembered))
        if len(self.turns) == 1:
            self.started.set()
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.cancelled.append(message.text)
                raise
        return f"answer to {message.text}"


async def _unanswered(store: Store) -> list[str]:
    """Keys still pending in the journal (the runner closed the store: open it again)."""
    await store.open()
    try:
        return [entry.key for entry in await store.journal_pending()]
    finally:
        await store.close()


def _remembering(
    chat: InMemoryConnector, agent: Blocking, store: Store, policy: DoubleTexting
) -> AgentRuntime:
    """A runner with short-term memory and the double-texting ``policy``."""
    memory = ShortTermMemory()
    return make([chat], [chat], agent, store=store, short_term_memory=memory, double_texting=policy)


async def _first_turn_busy(chat: InMemoryConnector, agent: Blocking) -> None:
    await chat.push("one", conversation_id="c", id="m1")
    async with asyncio.timeout(10):
        await agent.started.wait()


async def test_enqueue_gives_each_message_its_own_turn_in_order(store: Store) -> None:
    chat, agent = InMemoryConnector(), Blocking()
    runtime = make([chat], [chat], agent, store=store, short_term_memory=ShortTermMemory())
    async with running(runtime):
        await _first_turn_busy(chat, agent)
        await chat.push("two", conversation_id="c", id="m2")
        await chat.push("three", conversation_id="c", id="m3")
        agent.release.set()
        sent = await chat.wait_for_replies(3)
    assert [(m.id, r.text) for m, r in sent] == [
        ("m1", "answer to one"),
        ("m2", "answer to two"),
        ("m3", "answer to three"),
    ]
    assert [merged for _, merged, _ in agent.turns] == [[], [], []]


async def test_merge_hands_the_messages_that_arrived_while_busy_to_one_turn(store: Store) -> None:
    chat, agent = InMemoryConnector(), Blocking()
    async with running(_remembering(chat, agent, store, "merge")):
        await _first_turn_busy(chat, agent)
        await asyncio.gather(*(chat.push(t, conversation_id="c", id=t) for t in ("two", "three")))
        agent.release.set()
        sent = await chat.wait_for_replies(2)
        await chat.push("four", conversation_id="c", id="four")  # not busy: a turn of its own
        sent = await chat.wait_for_replies(3)
    assert [(m.id, r.text) for m, r in sent] == [
        ("m1", "answer to one"),
        ("three", "answer to three"),
        ("four", "answer to four"),
    ]
    assert agent.turns[1] == ("three", ["two"], ["one", "two"])
    assert agent.turns[2] == ("four", [], ["one", "two", "three"])
    assert await _unanswered(store) == []  # "two" completed with the merged turn


async def test_reject_answers_busy_at_once_and_drops_the_message(store: Store) -> None:
    chat, agent = InMemoryConnector(), Blocking()
    runtime = make([chat], [chat], agent, store=store, double_texting="reject")
    async with running(runtime):
        await _first_turn_busy(chat, agent)
        await asyncio.gather(*(chat.push(t, conversation_id="c", id=t) for t in ("two", "three")))
        busy = await chat.wait_for_replies(2)  # while the first turn still runs
        assert not agent.release.is_set()
        agent.release.set()
        sent = await chat.wait_for_replies(3)
        await chat.push("four", conversation_id="c", id="four")  # idle again: handled
        sent = await chat.wait_for_replies(4)
    assert sorted((m.id, r.text) for m, r in busy) == [
        ("three", DEFAULT_BUSY_REPLY),
        ("two", DEFAULT_BUSY_REPLY),
    ]
    assert [(m.id, r.text) for m, r in sent[2:]] == [
        ("m1", "answer to one"),
        ("four", "answer to four"),
    ]
    assert [t for t, _, _ in agent.turns] == ["one", "four"]
    assert await _unanswered(store) == []


async def test_interrupt_cancels_the_running_turn_and_answers_both(store: Store) -> None:
    chat, agent = InMemoryConnector(), Blocking()
    async with running(_remembering(chat, agent, store, "interrupt")):
        await _first_turn_busy(chat, agent)
        await chat.push("two", conversation_id="c", id="m2")
        [(request, reply)] = await chat.wait_for_replies(1)
    assert agent.cancelled == ["one"]  # the agent's coroutine was cancelled
    assert (request.id, reply.text) == ("m2", "answer to two")
    assert agent.turns[1] == ("two", ["one"], ["one"])  # the interrupted message in memory
    assert await _unanswered(store) == []


async def test_interrupt_skips_straight_to_the_last_of_several_arrivals(store: Store) -> None:
    chat, agent = InMemoryConnector(), Blocking()
    async with running(_remembering(chat, agent, store, "interrupt")):
        await _first_turn_busy(chat, agent)
        await asyncio.gather(*(chat.push(t, conversation_id="c", id=t) for t in ("two", "three")))
        [(request, reply)] = await chat.wait_for_replies(1)
    assert (request.id, reply.text) == ("three", "answer to three")
    assert [t for t, _, _ in agent.turns] == ["one", "three"]
    assert agent.turns[1][1] == ["one", "two"]


class _RecordingClient:
    """Wraps a real client; records model calls cancelled in flight."""

    def __init__(self, inner: OpenAIClient) -> None:
        self.inner = inner
        self.cancelled = 0

    @property
    def model(self) -> str:
        return self.inner.model

    async def complete(self, messages: list[ChatMessage], **kwargs: Any) -> Completion:
        try:
            return await self.inner.complete(messages, **kwargs)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise

    async def close(self) -> None:
        await self.inner.close()


async def test_interrupt_reaches_the_model_call_of_an_llm_agent(store: Store) -> None:
    async with OpenAIServer() as server:
        asked = asyncio.Event()

        def first(body: dict[str, Any]) -> Answer:
            asked.set()
            return Answer(content="too late", hang=True)

        server.script(first, text("both answered"))
        client = _RecordingClient(
            OpenAIClient(model="test-model", base_url=server.base_url, api_key=server.api_key)
        )
        agent = LLMAgent(client, system_prompt="Be brief.")  # type: ignore[arg-type]
        chat = InMemoryConnector()
        runtime = make(
            [chat],
            [chat],
            agent,
            store=store,
            short_term_memory=ShortTermMemory(),
            double_texting=lambda message: "interrupt",
        )
        async with running(runtime):
            await chat.push("what is 2+2?", conversation_id="c", id="m1")
            async with asyncio.timeout(10):
                await asked.wait()
            await chat.push("and 3+3?", conversation_id="c", id="m2")
            [(request, reply)] = await chat.wait_for_replies(1)
        assert client.cancelled == 1
        assert (request.id, reply.text) == ("m2", "both answered")
        users = [m["content"] for m in server.requests[1]["messages"] if m["role"] == "user"]
        assert users == ["what is 2+2?", "and 3+3?"]


async def test_the_policy_may_differ_per_conversation(store: Store) -> None:
    chat, agent = InMemoryConnector(), Blocking()

    def policy(message: Message) -> DoubleTexting:
        return "reject" if message.conversation_id == "c" else "enqueue"

    async with running(make([chat], [chat], agent, store=store, double_texting=policy)):
        await _first_turn_busy(chat, agent)
        await chat.push("two", conversation_id="c", id="m2")
        [(request, reply)] = await chat.wait_for_replies(1)
        assert (request.id, reply.text) == ("m2", DEFAULT_BUSY_REPLY)
        agent.release.set()
        await chat.wait_for_replies(2)


def test_an_unknown_policy_is_a_configuration_error() -> None:
    chat = InMemoryConnector()
    with pytest.raises(ConfigurationError, match="double_texting"):
        make([chat], [chat], Blocking(), double_texting="drop")  # type: ignore[arg-type]
