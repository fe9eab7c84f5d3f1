"""Images to the model, through the real runner and short-term memory: image parts for a
model that sees images, a text listing for one that does not, and earlier images sent again
only for the last ``image_turns`` turns (kept in memory by reference)."""

from __future__ import annotations

import pytest

from agent_runner.llm import ChatMessage, LLMAgent, OpenAIClient, sees_images
from agent_runner.llm._chat_completions import to_openai_message
from agent_runner.memory import ShortTermMemory
from agent_runner.store import InMemoryStore
from connectors.inmemory import InMemoryConnector
from tests.llm.openai_server import Body, OpenAIServer, text
from tests.runner.support import make, running


def images_per_user_turn(body: Body) -> list[list[str]]:
    """For each user message of a request: its image URLs."""
    found = []
    for message in body["messages"]:
        if message["role"] != "user":
            continue
        content = message["content"]
        parts = content if isinstance(content, list) else []
        found.append([p["image_url"]["url"] for p in parts if p["type"] == "image_url"])
    return found


def photo(number: int) -> dict[str, str]:
    return {"url": f"https://cdn.example/p{number}.png", "filename": f"p{number}.png"}


async def test_only_the_last_image_turns_send_their_images_again(
    server: OpenAIServer, client: OpenAIClient
) -> None:
    chat = InMemoryConnector()
    agent = LLMAgent(client, system_prompt="Look.", vision=True, image_turns=2)
    server.script(text("one"), text("two"), text("three"), text("four"))
    runtime = make(
        [chat], [chat], agent, short_term_memory=ShortTermMemory(), store=InMemoryStore()
    )
    async with running(runtime):
        for number in (1, 2, 3):
            await chat.push(f"picture {number}", attachments=[photo(number)])
            await chat.wait_for_replies(number)
        await chat.push("and now?")
        await chat.wait_for_replies(4)
    first, second, third, fourth = (images_per_user_turn(body) for body in server.requests)
    assert first == [["https://cdn.example/p1.png"]]
    assert second == [["https://cdn.example/p1.png"], ["https://cdn.example/p2.png"]]
    assert third == [[], ["https://cdn.example/p2.png"], ["https://cdn.example/p3.png"]]
    assert fourth == [[], ["https://cdn.example/p2.png"], ["https://cdn.example/p3.png"], []]
    older = server.requests[2]["messages"][1]["content"]
    assert older == "picture 1\n[attachment: p1.png https://cdn.example/p1.png]"


async def test_a_model_without_vision_gets_a_listing_and_no_image_part(
    server: OpenAIServer, client: OpenAIClient
) -> None:
    chat = InMemoryConnector()
    agent = LLMAgent(client, system_prompt="Look.")  # "test-model": no vision by name
    assert agent.vision is False
    server.script(text("I see a file."))
    runtime = make([chat], [chat], agent, store=InMemoryStore())
    async with running(runtime):
        await chat.push("", attachments=[{**photo(1), "content_type": "image/png"}])
        await chat.wait_for_replies(1)
    [body] = server.requests
    assert body["messages"][-1]["content"] == (
        "[attachment: p1.png (image/png) https://cdn.example/p1.png]"
    )


async def test_an_inline_data_image_is_sent_once_and_remembered_by_name_only(
    server: OpenAIServer, client: OpenAIClient
) -> None:
    chat = InMemoryConnector()
    agent = LLMAgent(client, system_prompt="Look.", vision=True)
    inline = "data:image/png;base64,iVBORw0KGgo="
    server.script(text("a png"), text("still a png"))
    runtime = make(
        [chat], [chat], agent, short_term_memory=ShortTermMemory(), store=InMemoryStore()
    )
    async with running(runtime):
        await chat.push("look", attachments=[{"url": inline, "filename": "shot.png"}])
        await chat.wait_for_replies(1)
        await chat.push("again?")
        await chat.wait_for_replies(2)
    assert images_per_user_turn(server.requests[0]) == [[inline]]
    assert images_per_user_turn(server.requests[1]) == [[], []]
    assert (
        server.requests[1]["messages"][1]["content"] == "look\n[attachment: shot.png (image/png)]"
    )


@pytest.mark.parametrize(
    ("model", "expected"),
    [("gpt-4o", True), ("openai/gpt-4o-mini", True), ("llava:13b", True), ("gpt-3.5-turbo", False)],
)
def test_vision_models_by_name(model: str, expected: bool) -> None:
    assert sees_images(model) is expected


def test_images_are_openai_content_parts() -> None:
    message = ChatMessage.user("what is it?", images=["https://x.test/a.png"])
    assert to_openai_message(message) == {
        "role": "user",
        "content": [
            {"type": "text", "text": "what is it?"},
            {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
        ],
    }


def test_vision_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent_runner.llm import agent_from_env

    monkeypatch.setenv("LLM_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("LLM_MODEL", "my-local-model")
    monkeypatch.setenv("LLM_VISION_MODELS", "my-local-*, other")
    monkeypatch.setenv("LLM_IMAGE_TURNS", "1")
    agent = agent_from_env(system_prompt="hi")
    assert agent is not None and (agent.vision, agent.image_turns) == (True, 1)
