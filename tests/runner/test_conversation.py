"""The conversation actor (runner.conversation): a turn is remembered once, even when
at-least-once delivery handles its message again."""

from __future__ import annotations

from agent_runner import Author, InMemoryStore, Message, Reply, ShortTermMemory
from agent_runner.runner.conversation import _remember


async def test_a_message_handled_again_adds_its_turn_to_memory_once() -> None:
    store = InMemoryStore()
    memory = ShortTermMemory(max_messages=10)
    message = Message(id="1", conversation_id="c", source="chat", author=Author(id="u"), text="hi")
    view = await memory.load(store, message.conversation_key)
    await _remember(view, message, [Reply(text="hello")])
    await _remember(view, message, [Reply(text="hello again")])  # recovered after a crash
    reloaded = await memory.load(store, message.conversation_key)  # as after a restart
    await _remember(reloaded, message, [Reply(text="and again")])
    for current in (view, reloaded):
        assert [(m.role, m.text) for m in current.messages] == [
            ("user", "hi"),
            ("assistant", "hello"),
        ]
        assert {m.message_key for m in current.messages} == {"chat:1"}
    other = message.model_copy(update={"id": "2", "text": "next"})
    await _remember(reloaded, other, [])
    assert [m.text for m in reloaded.messages] == ["hi", "hello", "next"]
