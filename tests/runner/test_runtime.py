"""AgentRuntime end to end: InMemoryConnector in, the real runner, the real stores, replies out."""

from __future__ import annotations

import asyncio
import logging

import pytest

from agent_runner import (
    AgentContext,
    ConfigurationError,
    ConnectorError,
    InMemoryStore,
    InvalidMessageError,
    Message,
    RefusedMessageError,
    Reply,
    StoreError,
)
from agent_runner.store import Store
from connectors.inmemory import InMemoryConnector
from tests.runner.support import make, running


async def echo(message: Message, context: AgentContext) -> str:
    return message.text


class EchoAgent:
    def __init__(self) -> None:
        self.seen: list[str] = []

    async def execute(self, message: Message, context: AgentContext) -> Reply:
        self.seen.append(message.text)
        return Reply(text=f"echo: {message.text}")


async def test_echo_round_trip_with_an_agent_object(store: Store) -> None:
    chat = InMemoryConnector()
    agent = EchoAgent()
    async with running(make([chat], [chat], agent, store=store)):
        accepted = await chat.push("hello", conversation_id="c1", id="m1")
        assert accepted.key == "memory:m1" and not accepted.duplicate
        [(request, reply)] = await chat.wait_for_replies(1)
    assert request.id == "m1" and request.conversation_id == "c1"
    assert reply.text == "echo: hello"
    assert agent.seen == ["hello"]


class ClosingAgent(EchoAgent):
    def __init__(self) -> None:
        super().__init__()
        self.closed = 0

    async def close(self) -> None:
        self.closed += 1


async def test_an_agent_with_close_is_closed_once_at_shutdown(store: Store) -> None:
    chat = InMemoryConnector()
    agent = ClosingAgent()
    async with running(make([chat], [chat], agent, store=store)):
        await chat.push("hello")
        await chat.wait_for_replies(1)
        assert agent.closed == 0
    assert agent.closed == 1


class ConnectorWithCompletion(InMemoryConnector):
    def __init__(self) -> None:
        super().__init__()
        self.completed: list[tuple[str, int]] = []

    async def complete(self, message: Message) -> None:
        self.completed.append((message.id, len(self.sent)))


async def test_the_source_connector_is_told_when_a_message_is_handled(store: Store) -> None:
    chat = ConnectorWithCompletion()

    async def agent(message: Message, context: AgentContext) -> list[str] | None:
        return None if message.text == "none" else ["one", "two"]

    async with running(make([chat], [chat], agent, store=store)):
        await chat.push("many", id="a")
        await chat.push("none", id="b")
        await chat.wait_for_replies(2)
        for _ in range(200):
            if len(chat.completed) == 2:
                break
            await asyncio.sleep(0.01)
    # told once each, after every reply of that message was sent; also with no reply
    assert chat.completed == [("a", 2), ("b", 2)]


async def test_plain_async_function_agent_and_several_replies(store: Store) -> None:
    chat = InMemoryConnector()

    async def twice(message: Message, context: AgentContext) -> list[str]:
        return [message.text, message.text.upper(), "  "]  # blank replies are dropped

    async with running(make([chat], [chat], twice, store=store)):
        await chat.push("hi")
        sent = await chat.wait_for_replies(2)
    assert [r.text for _, r in sent] == ["hi", "HI"]


async def test_agent_returning_none_sends_nothing_and_completes(store: Store) -> None:
    chat = InMemoryConnector()
    handled = asyncio.Event()

    async def silent(message: Message, context: AgentContext) -> None:
        handled.set()

    async with running(make([chat], [chat], silent, store=store)):
        await chat.push("hi")
        await handled.wait()
    assert chat.sent == []
    await store.open()
    assert await store.journal_pending() == []  # completed, nothing to recover
    await store.close()


async def test_invalid_inputs_are_refused_with_reasons_and_the_loop_goes_on(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    chat = InMemoryConnector()
    calls: list[str] = []

    async def agent(message: Message, context: AgentContext) -> str:
        calls.append(message.text)
        return message.text

    runtime = make([chat], [chat], agent, store=store)
    async with running(runtime):
        with pytest.raises(InvalidMessageError, match="text is empty") as empty:
            await chat.push("   ")
        assert empty.value.reason.startswith("invalid message")
        with pytest.raises(InvalidMessageError, match="text: String should have at most"):
            await chat.push("x" * 100_001)
        with pytest.raises(InvalidMessageError, match="author.id"):
            await chat.push("hi", author={"id": ""})
        with pytest.raises(InvalidMessageError, match="must be an object"):
            await runtime.sink(["not", "a", "message"])  # type: ignore[arg-type]
        with pytest.raises(InvalidMessageError, match="unexpected"):
            await chat.push("hi", unexpected_field=1)
        await chat.push("still alive")
        [(_, reply)] = await chat.wait_for_replies(1)
    assert reply.text == "still alive"
    assert calls == ["still alive"]
    refusals = [r.getMessage() for r in caplog.records if "refused input" in r.getMessage()]
    assert len(refusals) == 5 and "'memory'" in refusals[0]


async def test_own_and_other_bots_messages_are_dropped(store: Store) -> None:
    chat = InMemoryConnector()
    calls: list[str] = []

    async def agent(message: Message, context: AgentContext) -> str:
        calls.append(message.text)
        return message.text

    async with running(make([chat], [chat], agent, store=store, ignore_authors={"me"})):
        with pytest.raises(RefusedMessageError, match="'me' is ignored"):
            await chat.push("my own post", author_id="me")
        with pytest.raises(RefusedMessageError, match="is a bot") as bot:
            await chat.push("beep", author={"id": "other-bot", "is_bot": True})
        assert isinstance(bot.value, InvalidMessageError)
        await chat.push("human")
        await chat.wait_for_replies(1)
    assert calls == ["human"]


async def test_allow_bots_lets_other_bots_through_but_not_itself(store: Store) -> None:
    chat = InMemoryConnector()
    runtime = make([chat], [chat], echo, store=store, allow_bots=True, ignore_authors=["me"])
    async with running(runtime):
        await chat.push("beep", author={"id": "other-bot", "is_bot": True})
        with pytest.raises(RefusedMessageError):
            await chat.push("loop", author={"id": "me", "is_bot": True})
        [(_, reply)] = await chat.wait_for_replies(1)
    assert reply.text == "beep"


async def test_reply_depth_is_capped(store: Store) -> None:
    chat = InMemoryConnector()
    async with running(make([chat], [chat], echo, store=store, max_reply_depth=2)):
        await chat.push("depth 2", depth=2)
        with pytest.raises(RefusedMessageError, match="depth 3 is over max_reply_depth 2"):
            await chat.push("depth 3", depth=3)
        sent = await chat.wait_for_replies(1)
    assert [r.text for _, r in sent] == ["depth 2"]


async def test_conversations_run_in_parallel(store: Store) -> None:
    chat = InMemoryConnector()
    a_started = asyncio.Event()
    release_a = asyncio.Event()

    async def agent(message: Message, context: AgentContext) -> str:
        if message.conversation_id == "A":
            a_started.set()
            await release_a.wait()
        return f"{message.conversation_id} done"

    async with running(make([chat], [chat], agent, store=store)):
        await chat.push("slow", conversation_id="A")
        await a_started.wait()
        await chat.push("fast", conversation_id="B")
        [(request, reply)] = await chat.wait_for_replies(1)  # B completes while A is blocked
        assert (request.conversation_id, reply.text) == ("B", "B done")
        release_a.set()
        sent = await chat.wait_for_replies(2)
    assert [r.text for _, r in sent] == ["B done", "A done"]


async def test_one_conversation_stays_ordered(store: Store) -> None:
    chat = InMemoryConnector()
    active = 0
    overlap = False

    async def agent(message: Message, context: AgentContext) -> str:
        nonlocal active, overlap
        active += 1
        overlap = overlap or active > 1
        for _ in range(int(message.text) % 4):  # uneven work: a race would reorder
            await asyncio.sleep(0)
        active -= 1
        return message.text

    async with running(make([chat], [chat], agent, store=store, max_concurrency=8)):
        await asyncio.gather(*(chat.push(str(i), conversation_id="one") for i in range(100)))
        sent = await chat.wait_for_replies(100)
    assert [r.text for _, r in sent] == [str(i) for i in range(100)]
    assert not overlap


async def test_max_concurrency_bounds_turns_across_conversations(store: Store) -> None:
    chat = InMemoryConnector()
    active = 0
    peak = 0
    gate = asyncio.Event()

    async def agent(message: Message, context: AgentContext) -> str:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        if active == 2:
            gate.set()
        await gate.wait()
        await asyncio.sleep(0)
        active -= 1
        return "ok"

    async with running(make([chat], [chat], agent, store=store, max_concurrency=2)):
        await asyncio.gather(*(chat.push("x", conversation_id=f"c{i}") for i in range(6)))
        await chat.wait_for_replies(6)
    assert peak == 2


async def test_agent_exception_gives_error_reply_and_next_message_is_answered(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    chat = InMemoryConnector()

    async def agent(message: Message, context: AgentContext) -> str:
        if message.text == "boom":
            raise RuntimeError("kaboom")
        return message.text

    async with running(make([chat], [chat], agent, store=store, error_reply="oops")):
        await chat.push("boom", id="bad")
        await chat.push("fine")
        sent = await chat.wait_for_replies(2)
    assert [r.text for _, r in sent] == ["oops", "fine"]
    [record] = [r for r in caplog.records if "raised" in r.getMessage()]
    assert "memory:bad" in record.getMessage()
    assert record.exc_info is not None and "kaboom" in str(record.exc_info[1])


async def test_agent_timeout_gives_error_reply(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    chat = InMemoryConnector()
    never = asyncio.Event()

    async def agent(message: Message, context: AgentContext) -> str:
        if message.text == "hang":
            await never.wait()
        return message.text

    runtime = make([chat], [chat], agent, store=store, agent_timeout=0.05)
    async with running(runtime):
        await chat.push("hang", id="h1")
        await chat.push("after")
        sent = await chat.wait_for_replies(2)
    assert [r.text for _, r in sent][0].startswith("Sorry")
    assert sent[1][1].text == "after"
    assert any(
        "timed out" in r.getMessage() and "memory:h1" in r.getMessage() for r in caplog.records
    )


async def test_error_reply_none_sends_nothing(store: Store) -> None:
    chat = InMemoryConnector()

    async def agent(message: Message, context: AgentContext) -> str:
        if message.text == "boom":
            raise ValueError("x")
        return message.text

    async with running(make([chat], [chat], agent, store=store, error_reply=None)):
        await chat.push("boom")
        await chat.push("ok")
        sent = await chat.wait_for_replies(1)
    assert [r.text for _, r in sent] == ["ok"]


async def test_context_gives_logger_runtime_store_and_meter(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    chat = InMemoryConnector()

    async def agent(message: Message, context: AgentContext) -> str:
        context.logger.info("thinking about %s", message.text)
        await context.store.state_set("seen", message.id)
        assert context.runtime is not None
        assert context.cost.spent == 0.0
        return "ok"

    with caplog.at_level(logging.INFO):
        async with running(make([chat], [chat], agent, store=store)) as runtime:
            await chat.push("x", id="ctx1")
            await chat.wait_for_replies(1)
            assert await runtime.store.state_get("seen") == "ctx1"
    assert any(r.getMessage() == "[memory:ctx1] thinking about x" for r in caplog.records)


async def test_crashing_input_is_restarted(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    chat = InMemoryConnector()

    class Flaky(InMemoryConnector):
        starts = 0

        async def run(self, sink: object) -> None:
            Flaky.starts += 1
            if Flaky.starts <= 2:
                raise ConnectorError("connection reset")
            await super().run(sink)  # type: ignore[arg-type]

    flaky = Flaky("flaky")
    async with running(make([flaky, chat], [flaky, chat], echo, store=store)):
        await flaky.push("finally up")
        await flaky.wait_for_replies(1)
    assert Flaky.starts == 3
    crashes = [r for r in caplog.records if "crashed" in r.getMessage()]
    assert len(crashes) == 2 and "'flaky'" in crashes[0].getMessage()


def test_configuration_errors() -> None:
    chat = InMemoryConnector()
    with pytest.raises(ConfigurationError, match="unknown outputs"):
        make([chat], [chat], echo, routes={"memory": ["nope"]})
    with pytest.raises(ConfigurationError, match="max_concurrency"):
        make([chat], [chat], echo, max_concurrency=0)
    with pytest.raises(ConfigurationError, match="two outputs"):
        make([chat], [chat, InMemoryConnector()], echo)
    with pytest.raises(ConfigurationError, match="async execute"):
        make([chat], [chat], lambda m, c: m.text)


async def test_push_without_a_runner_fails_clearly() -> None:
    with pytest.raises(ConnectorError, match="not started"):
        await InMemoryConnector().push("hi", wait=0.01)


async def test_a_given_core_runtime_with_idle_deactivation(store: Store) -> None:
    from agent_runner.core import SingleThreadedAgentRuntime
    from agent_runner.memory import ShortTermMemory

    chat = InMemoryConnector()
    core = SingleThreadedAgentRuntime(idle_timeout=0.01)
    core.start()  # already running: the runner uses it and leaves it running

    async def count(message: Message, context: AgentContext) -> str:
        return str(len(context.memory.messages))

    runtime = make(
        [chat], [chat], count, store=store, runtime=core, short_term_memory=ShortTermMemory()
    )
    async with running(runtime):
        await chat.push("one")
        await chat.wait_for_replies(1)
        # let the idle sweeper deactivate the conversation actor, then talk again
        async with asyncio.timeout(5):
            while core.active_agents_count:  # noqa: ASYNC110 - the idle sweep has no event
                await asyncio.sleep(0.01)
        await chat.push("two")
        await chat.wait_for_replies(2)
    assert [r.text for _, r in chat.sent] == ["0", "2"]  # memory reloaded from the store
    await core.stop()  # still ours to stop


async def test_a_connector_failing_to_open_fails_run_and_closes_the_rest(store: Store) -> None:
    closed: list[str] = []

    class Tracked(InMemoryConnector):
        async def close(self) -> None:
            closed.append(self.name)

    class Broken(Tracked):
        async def open(self) -> None:
            raise ConnectorError("bad token")

    good, broken = Tracked("good"), Broken("broken")
    runtime = make([good, broken], [good], echo, store=store)
    waiter = asyncio.create_task(runtime.wait_started())
    with pytest.raises(ConnectorError, match="bad token"):
        await runtime.run()
    with pytest.raises(RuntimeError, match="not running"):
        await waiter
    assert closed == ["good"]  # opened, so closed; the broken one never opened
    await store.open()  # the runner closed it: it opens again cleanly
    await store.close()


async def test_run_again_after_stop(store: Store) -> None:
    chat = InMemoryConnector()
    runtime = make([chat], [chat], echo, store=store)
    async with running(runtime):
        await chat.push("one")
        await chat.wait_for_replies(1)
    assert not runtime.started.is_set()
    async with running(runtime):
        await chat.push("two")
        await chat.wait_for_replies(2)
    assert [r.text for _, r in chat.sent] == ["one", "two"]


async def test_max_pending_makes_inputs_wait_for_room(store: Store) -> None:
    chat = InMemoryConnector()
    release = asyncio.Event()
    started = asyncio.Event()

    async def agent(message: Message, context: AgentContext) -> str:
        started.set()
        await release.wait()
        return message.text

    async with running(make([chat], [chat], agent, store=store, max_pending=2)):
        await chat.push("1", conversation_id="a")
        await chat.push("2", conversation_id="b")
        await started.wait()
        third = asyncio.create_task(chat.push("3", conversation_id="c"))
        for _ in range(20):  # let it run as far as it can
            await asyncio.sleep(0)
        assert not third.done()  # two messages in the mailboxes: the input waits
        release.set()
        accepted = await third
        assert not accepted.duplicate
        sent = await chat.wait_for_replies(3)
    assert sorted(r.text for _, r in sent) == ["1", "2", "3"]


async def test_a_journal_failure_is_reported_to_the_input_and_the_loop_goes_on() -> None:
    class FlakyStore(InMemoryStore):
        fail = 1

        async def journal_accept(self, key: str, conversation_key: str, payload: str) -> bool:
            if self.fail:
                self.fail -= 1
                raise StoreError("disk full")
            return await super().journal_accept(key, conversation_key, payload)

    chat = InMemoryConnector()
    async with running(make([chat], [chat], echo, store=FlakyStore())):
        first = asyncio.create_task(chat.push("lost", id="j1"))
        second = asyncio.create_task(chat.push("kept", id="j2"))  # same conversation, behind
        with pytest.raises(StoreError, match="disk full"):
            await first
        assert not (await second).duplicate
        sent = await chat.wait_for_replies(1)
        again = await chat.push("lost", id="j1")  # not journaled before: accepted now
        assert not again.duplicate
        sent = await chat.wait_for_replies(2)
    assert [r.text for _, r in sent] == ["kept", "lost"]


async def test_an_input_that_ignores_stop_is_cancelled_and_one_that_returns_is_not_restarted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    chat = InMemoryConnector()
    starts = {"stubborn": 0, "once": 0}

    class Stubborn:
        name = "stubborn"

        async def start(self, sink: object) -> None:
            starts["stubborn"] += 1
            await asyncio.Event().wait()  # ignores stop()

        async def stop(self) -> None:
            return None

    class Once(InMemoryConnector):
        async def run(self, sink: object) -> None:
            starts["once"] += 1  # nothing to do: returns at once

    caplog.set_level(logging.INFO)
    runtime = make(
        [chat, Stubborn(), Once("once")], [chat], echo, store=InMemoryStore(), shutdown_grace=0.05
    )
    async with running(runtime):
        await chat.push("hi")
        await chat.wait_for_replies(1)
    assert starts == {"stubborn": 1, "once": 1}
    messages = [r.getMessage() for r in caplog.records]
    assert any("input 'once' finished" in m for m in messages)
    assert any("stubborn did not return after stop(); cancelled" in m for m in messages)


class UnclaimedConnector(InMemoryConnector):
    """An output whose delivery cannot repeat (like an answer on a live HTTP response)."""

    def needs_claim(self, request: Message) -> bool:
        return request.text == "claim me"


async def test_an_output_may_skip_the_durable_claim_per_request() -> None:
    chat = UnclaimedConnector()
    store = InMemoryStore()
    async with running(make([chat], [chat], echo, store=store)):
        await chat.push("live", id="a")
        await chat.push("claim me", id="b")
        await chat.wait_for_replies(2)
    assert await store.reply_claim("memory:a#0", "memory") is True  # never claimed
    assert await store.reply_claim("memory:b#0", "memory") is False  # claimed before sending
