"""LLMAgent: the runner's Agent backed by a chat model, with tools, memory and budgets.

::

    agent = LLMAgent(
        OpenAIClient(model="gpt-4o-mini"),
        system_prompt="You are a helpful Discord bot. Be brief.",
        tools=[get_weather, search_docs],
    )
    runtime = AgentRuntime([discord], [discord], agent, ShortTermMemory(), pricing)

For each message: the prompt is the system prompt, this conversation's short-term memory and
the message; the model may call tools (several at once; they run concurrently) for up to
``max_steps`` model calls and ``max_tool_calls`` tool calls; then it answers. Every model call
is checked against the budget first (``context.cost.check``) and priced after
(``context.cost.record``), so a budget stops spending before it is exceeded.

When the output can stream (``context.streaming``), every model call is streamed and its text
goes to ``context.stream`` as it arrives. That is the final answer, plus any text a model
writes next to its tool calls (most write none); the reply returned is the final answer.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from agent_runner.agent import AgentContext, ConversationMemory
from agent_runner.errors import AgentRunnerError, ModelClientError, ToolError
from agent_runner.llm._approving import Gated, Resume, answer_decision, pause_turn
from agent_runner.llm._client import ChatMessage, ModelClient, ToolCall, ToolDefinition
from agent_runner.llm._estimate import (
    estimate_message_tokens,
    estimate_prompt_tokens,
    estimate_tools_tokens,
)
from agent_runner.llm._streamer import Streamer
from agent_runner.llm._tools import Tool, ToolArgumentsError, ToolSource
from agent_runner.llm._vision import DEFAULT_IMAGE_TURNS, add_images, sees_images, user_text
from agent_runner.media import attachments_from_meta
from agent_runner.message import Message, Reply
from agent_runner.store import MemoryItem
from agent_runner.tracing import genai

if TYPE_CHECKING:
    from agent_runner.approvals import Approvals
    from agent_runner.memory import LongTermMemory

RECALL_HEADING = "What you remember about this user and conversation (most relevant first):"
"""Starts the recalled facts appended to the system prompt (``long_term_memory``)."""

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")

LIMIT_NOTE = (
    "You have used all the tool calls allowed for this message. Do not call tools again; "
    "answer the user now with what you have."
)
"""Told to the model when a cap forces its final answer."""

DEFAULT_LIMIT_REPLY = (
    "Sorry, I could not finish this within my step limit. Please try a simpler request."
)


class LLMAgent:
    """An :class:`~agent_runner.Agent` that answers with a chat model and calls tools.

    Args:
        model_client: any :class:`~agent_runner.llm.ModelClient` (``OpenAIClient``,
            ``ScriptedModelClient``, your own).
        system_prompt: the instructions that start every prompt.
        tools: functions (sync or async, with type hints), :class:`Tool` objects, or
            :class:`ToolSource` objects whose tools may change while the agent runs (an
            :class:`agent_runner.mcp.MCPServer`). Sources are asked for their current tools at
            each message; a source's tool named like an earlier tool is left out (logged).
        max_steps: most model calls per message. When the model is still calling tools at
            the last step, that step is asked for a final answer without tools.
        max_tool_calls: most tool calls per message; calls beyond it are answered "limit
            reached" and the next step must answer without tools.
        timeout: seconds for the whole message (all steps and tools), or None. The default
            is below the runner's ``agent_timeout`` (120 s) so this clearer error comes first.
        tool_timeout: seconds per tool call; a slow tool's result is an error the model sees.
        max_output_tokens: the cap sent with each call, also what a budget check reserves
            (None: no cap is sent and budget checks count the input only).
        max_tool_result_chars: a longer tool result is cut (the model is told so).
        model_name: the name prices are looked up by (default: the client's model).
        limit_reply: the reply when the model still calls tools after it was told to stop.
        include_author_names: send authors' names as the chat ``name`` field of user
            messages (useful in group chats; off by default because some OpenAI-compatible
            providers refuse the field).
        long_term_memory: recall into the prompt: the ``recall_k`` records most similar to
            the message, from its author's, its conversation's and the shared scopes, are
            appended to the system prompt (give ``memory_tools(memory)`` as tools too to let
            the model remember and look up facts itself).
        recall_k: how many records to recall into the prompt.
        approvals: ask a person before running a tool marked ``requires_approval``: the turn
            pauses and resumes on the decision (:mod:`agent_runner.approvals`). None: such
            tools run without asking.
        vision: show the model image attachments as image content parts (True), or list
            them as text (False); None: by the model's name (``DEFAULT_VISION_MODELS``).
        image_turns: how many of the latest turns with images send them (older ones are
            listed as text, so a long chat does not re-send every picture).

    Example:
        >>> def add(a: int, b: int) -> int:
        ...     \"\"\"Add two integers.\"\"\"
        ...     return a + b
        >>> agent = LLMAgent(ScriptedModelClient(["4"]), system_prompt="Be brief.", tools=[add])
    """

    def __init__(
        self,
        model_client: ModelClient,
        *,
        system_prompt: str,
        tools: Sequence[Tool | ToolSource | Callable[..., Any]] = (),
        max_steps: int = 8,
        max_tool_calls: int = 16,
        timeout: float | None = 100.0,
        tool_timeout: float | None = 30.0,
        max_output_tokens: int | None = 1024,
        max_tool_result_chars: int = 16_000,
        model_name: str | None = None,
        limit_reply: str = DEFAULT_LIMIT_REPLY,
        include_author_names: bool = False,
        long_term_memory: LongTermMemory | None = None,
        recall_k: int = 5,
        approvals: Approvals | None = None,
        vision: bool | None = None,
        image_turns: int = DEFAULT_IMAGE_TURNS,
    ) -> None:
        if max_steps < 1:
            raise ValueError("max_steps must be >= 1")
        if max_tool_calls < 0:
            raise ValueError("max_tool_calls must be >= 0")
        self.model_client = model_client
        self.system_prompt = system_prompt
        self.tools: dict[str, Tool] = {}
        self.tool_sources: list[ToolSource] = []
        for item in tools:
            if isinstance(item, ToolSource):
                self.tool_sources.append(item)
                continue
            made = item if isinstance(item, Tool) else Tool(item)
            if made.name in self.tools:
                raise ValueError(f"two tools are named {made.name!r}")
            self.tools[made.name] = made
        self._offered = _Offered(self.tools)
        self._clashes: set[str] = set()
        self.max_steps = max_steps
        self.max_tool_calls = max_tool_calls
        self.timeout = timeout
        self.tool_timeout = tool_timeout
        self.max_output_tokens = max_output_tokens
        self.max_tool_result_chars = max_tool_result_chars
        self.model_name = model_name or model_client.model
        self.limit_reply = limit_reply
        self.include_author_names = include_author_names
        self.long_term_memory = long_term_memory
        self.recall_k = recall_k
        self.approvals = approvals
        self.vision = sees_images(self.model_client.model) if vision is None else vision
        self.image_turns = image_turns

    async def execute(self, message: Message, context: AgentContext) -> str | Reply | None:
        """Answer ``message``: prompt, tool loop, final text (streamed when the output can);
        a decision on an approval resumes the turn that waited for it."""
        answered = None
        if self.approvals is not None:
            run = functools.partial(self._run_approved, context)
            answered = await answer_decision(self.approvals, message, context, run)
            if isinstance(answered, str):
                return answered
        try:
            async with asyncio.timeout(self.timeout) as deadline:
                if isinstance(answered, Resume):
                    return await self._run(answered.prompt, context)
                prompt = self.build_prompt(message, context.memory)
                if self.vision and self.image_turns > 0:
                    await add_images(prompt, message, context, image_turns=self.image_turns)
                await self._recall_into(prompt, message)
                return await self._run(prompt, context)
        except TimeoutError:
            if not deadline.expired():
                raise  # not our deadline: someone else's timeout
            raise ModelClientError(f"the model did not answer within {self.timeout:g} s") from None

    def build_prompt(self, message: Message, memory: ConversationMemory) -> list[ChatMessage]:
        """System prompt + this conversation's earlier turns + the current message."""
        prompt = [ChatMessage.system(self.system_prompt)] if self.system_prompt else []
        prompt.extend(self._from_memory(item) for item in memory.messages)
        name = message.author.name or message.author.id if self.include_author_names else None
        text = user_text(message.text, message.attachments)
        prompt.append(ChatMessage.user(text, name=_safe_name(name)))
        return prompt

    async def _recall_into(self, prompt: list[ChatMessage], message: Message) -> None:
        """Append what long-term memory recalls for the message to the system prompt."""
        memory = self.long_term_memory
        if memory is None or not message.text.strip():
            return
        found = await memory.recall(message.text, memory.scopes_for(message), k=self.recall_k)
        if not found:
            return
        note = "\n".join([RECALL_HEADING, *(f"- {item.record.text}" for item in found)])
        if prompt and prompt[0].role == "system":
            prompt[0] = ChatMessage.system(f"{prompt[0].content}\n\n{note}")
        else:
            prompt.insert(0, ChatMessage.system(note))

    async def close(self) -> None:
        """Close the model client and the tool sources."""
        try:
            await self.model_client.close()
        finally:
            for source in self.tool_sources:
                await source.close()

    async def _current_tools(self, context: AgentContext) -> _Offered:
        """Our own tools and the sources' current ones (own names win a clash)."""
        if not self.tool_sources:
            return self._offered
        table = dict(self.tools)
        for source in self.tool_sources:
            for tool in await source.list_tools():
                if tool.name not in table:
                    table[tool.name] = tool
                elif table[tool.name] is not tool and tool.name not in self._clashes:
                    self._clashes.add(tool.name)  # logged once, not at every message
                    context.logger.warning(
                        "two tools are named %r; %r is left out", tool.name, tool
                    )
        if list(table.values()) != list(self._offered.tools.values()):
            self._offered = _Offered(table)
        return self._offered

    async def _run(self, prompt: list[ChatMessage], context: AgentContext) -> str | Reply | None:
        calls_left = self.max_tool_calls
        stream = Streamer(context) if context.streaming else None
        offered = await self._current_tools(context)
        tools = offered.definitions
        estimate = estimate_prompt_tokens(prompt) + offered.tokens

        def add(item: ChatMessage) -> None:  # keeps the running estimate for budget checks
            nonlocal estimate
            prompt.append(item)
            estimate += estimate_message_tokens(item)

        for step in range(self.max_steps):
            final = bool(tools) and (step == self.max_steps - 1 or calls_left <= 0)
            if final:
                add(ChatMessage.system(LIMIT_NOTE))
            await context.cost.check(
                self.model_name,
                input_tokens=estimate,
                max_output_tokens=self.max_output_tokens or 0,
            )
            with genai.chat(self.model_client, self.model_name, prompt) as span:
                completion = await self.model_client.complete(
                    prompt,
                    tools=tools,
                    tool_choice="none" if final else None,
                    max_output_tokens=self.max_output_tokens,
                    on_text=stream.send if stream is not None and stream.enabled else None,
                )
                genai.chat_result(span, completion, self.model_name)
            usage = completion.usage
            await context.cost.record(
                self.model_name,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
            )
            context.logger.debug(
                "model step %d: %d tool calls, %d+%d tokens%s",
                step + 1,
                len(completion.tool_calls),
                usage.input_tokens,
                usage.output_tokens,
                " (estimated)" if usage.estimated else "",
            )
            if not completion.tool_calls:
                if not (completion.content or "").strip():
                    context.logger.warning(
                        "the model answered with no text (finish reason %s): no reply",
                        completion.finish_reason,
                    )
                return completion.content
            if final:
                context.logger.warning(
                    "the model kept calling tools after %d steps; replying with the limit text",
                    step + 1,
                )
                return completion.content or self.limit_reply
            add(ChatMessage.assistant(completion.content, tool_calls=completion.tool_calls))
            allowed = completion.tool_calls[: max(calls_left, 0)]
            refused = completion.tool_calls[len(allowed) :]
            calls_left -= len(allowed)
            ran = await asyncio.gather(
                *(genai.tool_call(c, self._call_tool(c, context, offered.tools)) for c in allowed)
            )
            results: dict[str, str | Gated] = {c.id: r for c, r in zip(allowed, ran, strict=True)}
            limit = f"the limit of {self.max_tool_calls} tool calls per message is reached"
            results.update((call.id, f"Error: not run: {limit}.") for call in refused)
            if self.approvals is not None and any(isinstance(r, Gated) for r in results.values()):
                return await pause_turn(self.approvals, prompt, allowed, results, context)
            for call in completion.tool_calls:
                add(ChatMessage.tool(call.id, str(results[call.id]), name=call.name))
        return self.limit_reply  # only reached without tools and a model that calls some

    async def _run_approved(
        self, context: AgentContext, call_id: str, name: str, arguments: dict[str, Any]
    ) -> str:
        """Run a call a person approved, with the tool as offered now."""
        call = ToolCall(id=call_id, name=name, arguments=json.dumps(arguments))
        offered = await self._current_tools(context)
        run = self._call_tool(call, context, offered.tools, approved=True)
        return str(await genai.tool_call(call, run))

    async def _call_tool(
        self,
        call: ToolCall,
        context: AgentContext,
        tools: dict[str, Tool],
        *,
        approved: bool = False,
    ) -> str | Gated:
        """Run one tool call; every failure becomes a result the model can read."""
        tool = tools.get(call.name)
        if tool is None:
            known = ", ".join(sorted(tools)) or "none"
            return f"Error: there is no tool named {call.name!r} (available: {known})."
        try:
            if self.approvals is not None and not approved and tool.needs_approval(call.arguments):
                return Gated(tool.parse_arguments(call.arguments))
            async with asyncio.timeout(self.tool_timeout):
                result = await tool.run(call.arguments, context=context)
        except ToolArgumentsError as exc:
            return f"Error: {exc}. Call {call.name} again with valid arguments."
        except TimeoutError:
            context.logger.warning("tool %s timed out after %s s", call.name, self.tool_timeout)
            return f"Error: the tool did not finish within {self.tool_timeout:g} s."
        except ToolError as exc:  # a failure the tool describes for the model
            context.logger.warning("tool %s failed: %s", call.name, exc)
            return f"Error: {exc}"
        except AgentRunnerError:
            raise  # a budget or payment refusal inside a tool stops the request
        except Exception as exc:  # the user's tool: any failure goes back to the model
            context.logger.warning("tool %s failed: %r", call.name, exc, exc_info=True)
            return f"Error: {type(exc).__name__}: {exc}"
        if len(result) > self.max_tool_result_chars:
            cut = len(result) - self.max_tool_result_chars
            result = f"{result[: self.max_tool_result_chars]}\n[... {cut} more characters cut]"
        return result

    def _from_memory(self, item: MemoryItem) -> ChatMessage:
        if item.role == "user":
            name = _safe_name(item.name) if self.include_author_names else None
            text = user_text(item.text, attachments_from_meta(item.meta))
            return ChatMessage.user(text, name=name)
        if item.role == "assistant":
            return ChatMessage.assistant(item.text)
        if item.role == "tool":
            label = f"{item.name} result" if item.name else "tool result"
            return ChatMessage.system(f"[{label}] {item.text}")
        return ChatMessage.system(item.text)


class _Offered:
    """The tools offered for one message: the table calls are looked up in, their
    definitions and the tokens those take (computed once per change of tools)."""

    def __init__(self, tools: dict[str, Tool]) -> None:
        self.tools = tools
        self.definitions: tuple[ToolDefinition, ...] = tuple(t.definition for t in tools.values())
        self.tokens = estimate_tools_tokens(self.definitions)


def _safe_name(name: str | None) -> str | None:
    """A chat ``name`` the OpenAI API accepts (letters, digits, _ and -; at most 64)."""
    if not name:
        return None
    cleaned = _NAME_UNSAFE.sub("_", name).strip("_")[:64]
    return cleaned or None


__all__ = ["DEFAULT_LIMIT_REPLY", "LIMIT_NOTE", "LLMAgent", "RECALL_HEADING"]
