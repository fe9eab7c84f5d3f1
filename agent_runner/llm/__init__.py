"""LLM agents: model clients, tools from plain functions, and the runner's LLMAgent.

::

    from agent_runner.llm import LLMAgent, OpenAIClient

    def get_time(city: str) -> str:
        \"\"\"The local time in a city.\"\"\"
        ...

    agent = LLMAgent(
        OpenAIClient(model="gpt-4o-mini"),          # or base_url=... for OpenRouter/Ollama/vLLM
        system_prompt="You are a helpful bot. Be brief.",
        tools=[get_time],
    )
    runtime = AgentRuntime([http], [http], agent, ShortTermMemory(), pricing)

Tools from MCP servers go in the same list (:mod:`agent_runner.mcp`):
``tools=[get_time, MCPServer.stdio("uvx", ["mcp-server-git"])]``. In tests, use
:class:`ScriptedModelClient` instead of a real endpoint. The ``openai`` package
(the ``llm`` extra) is imported only when an :class:`OpenAIClient` is built.
"""

from agent_runner.backoff import RetryPolicy
from agent_runner.errors import ToolError
from agent_runner.llm._agent import DEFAULT_LIMIT_REPLY, LIMIT_NOTE, RECALL_HEADING, LLMAgent
from agent_runner.llm._client import (
    ChatMessage,
    ChatRole,
    Completion,
    ModelClient,
    ModelRequest,
    TextCallback,
    ToolCall,
    ToolChoice,
    ToolDefinition,
    Usage,
)
from agent_runner.llm._estimate import (
    estimate_completion_tokens,
    estimate_message_tokens,
    estimate_prompt_tokens,
    estimate_text_tokens,
    estimate_tools_tokens,
)
from agent_runner.llm._openai import ModelResponseError, OpenAIClient
from agent_runner.llm._scripted import ScriptAnswer, ScriptedModelClient, ScriptItem
from agent_runner.llm._settings import DEFAULT_OPENAI_MODEL, LLMSettings, agent_from_env
from agent_runner.llm._tools import ApprovalRule, Tool, ToolArgumentsError, ToolSource, tool
from agent_runner.llm._vision import DEFAULT_IMAGE_TURNS, DEFAULT_VISION_MODELS, sees_images

__all__ = [
    "ApprovalRule",
    "ChatMessage",
    "ChatRole",
    "Completion",
    "DEFAULT_IMAGE_TURNS",
    "DEFAULT_LIMIT_REPLY",
    "DEFAULT_OPENAI_MODEL",
    "DEFAULT_VISION_MODELS",
    "LIMIT_NOTE",
    "LLMAgent",
    "LLMSettings",
    "ModelClient",
    "ModelRequest",
    "ModelResponseError",
    "OpenAIClient",
    "RECALL_HEADING",
    "RetryPolicy",
    "ScriptAnswer",
    "ScriptItem",
    "ScriptedModelClient",
    "TextCallback",
    "Tool",
    "ToolArgumentsError",
    "ToolCall",
    "ToolChoice",
    "ToolDefinition",
    "ToolError",
    "ToolSource",
    "Usage",
    "agent_from_env",
    "estimate_completion_tokens",
    "estimate_message_tokens",
    "estimate_prompt_tokens",
    "estimate_text_tokens",
    "estimate_tools_tokens",
    "sees_images",
    "tool",
]
