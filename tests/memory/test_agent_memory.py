"""LLMAgent with long-term memory: recall into the system prompt, remember/recall tools, and
no fact of one user in another user's prompt."""

from __future__ import annotations

from agent_runner.llm import RECALL_HEADING, LLMAgent, ScriptedModelClient, ToolCall
from agent_runner.memory import LongTermMemory, MemoryScope, memory_tools
from tests.llm.support import make_context, message


async def test_recalled_facts_join_the_system_prompt_for_their_user_only(
    memory: LongTermMemory,
) -> None:
    await memory.remember(MemoryScope.user("test", "ada"), "Ada's favourite drink is green tea")
    await memory.remember(MemoryScope.user("test", "bob"), "Bob's favourite drink is green tea")
    client = ScriptedModelClient(["Tea, of course.", "Tea, I think."])
    agent = LLMAgent(client, system_prompt="Be brief.", long_term_memory=memory, recall_k=3)
    for author in ("ada", "bob"):
        msg = message("what is my favourite drink?", author=author)
        await agent.execute(msg, make_context(msg))
    for request, (mine, theirs) in zip(
        client.requests, [("Ada", "Bob"), ("Bob", "Ada")], strict=True
    ):
        system = request.messages[0]
        assert system.role == "system" and system.content is not None
        assert system.content.startswith(f"Be brief.\n\n{RECALL_HEADING}\n- {mine}'s")
        assert theirs not in system.content


async def test_nothing_recalled_leaves_the_prompt_alone(memory: LongTermMemory) -> None:
    client = ScriptedModelClient(["Hello."])
    agent = LLMAgent(client, system_prompt="Be brief.", long_term_memory=memory)
    msg = message("hello there")
    await agent.execute(msg, make_context(msg))
    assert client.requests[0].messages[0].content == "Be brief."


async def test_the_model_remembers_and_recalls_with_tools(memory: LongTermMemory) -> None:
    client = ScriptedModelClient(
        [
            ToolCall.of("remember", {"fact": "Ada is allergic to peanuts"}),
            "Noted.",
            ToolCall.of("recall", {"query": "what is she allergic to"}),
            "You are allergic to peanuts.",
            ToolCall.of("recall", {"query": "what is she allergic to"}),
            "I know nothing about that.",
        ]
    )
    agent = LLMAgent(client, system_prompt="Remember things.", tools=memory_tools(memory))
    said = message("I am allergic to peanuts", author="ada", conversation_id="c1")
    assert await agent.execute(said, make_context(said)) == "Noted."
    asked = message("what am I allergic to?", author="ada", conversation_id="c2")
    assert await agent.execute(asked, make_context(asked)) == "You are allergic to peanuts."
    assert client.requests[3].messages[-1].content == "- Ada is allergic to peanuts"
    other = message("what am I allergic to?", author="bob", conversation_id="c1")
    assert await agent.execute(other, make_context(other)) == "I know nothing about that."
    assert client.requests[5].messages[-1].content == "nothing remembered about that"
    [record] = [r.record for r in await memory.recall("peanuts", [MemoryScope.user("test", "ada")])]
    assert record.author == "test:ada"
    assert await memory.forget_user("test", "ada") == 1
