"""ScriptedModelClient: a real ModelClient that replays a script, for users' own tests.

::

    client = ScriptedModelClient([
        ToolCall.of("get_weather", {"city": "Paris"}),      # step 1: the model calls a tool
        "It is sunny in Paris.",                           # step 2: the final answer
    ])
    agent = LLMAgent(client, system_prompt="...", tools=[get_weather])
    ...
    assert client.requests[1].messages[-1].role == "tool"   # what the model was sent

Each script item is one answer: a ``str`` (text), a :class:`ToolCall` or a list of them (tool
calls made at once), a :class:`Completion` (full control, usage included), an exception
instance (raised by that call), or a function of the :class:`ModelRequest` returning any of
these. Usage is estimated from the request and answer unless the item is a Completion.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Sequence

from agent_runner.errors import ModelClientError
from agent_runner.llm._client import (
    ChatMessage,
    Completion,
    ModelRequest,
    TextCallback,
    ToolCall,
    ToolChoice,
    ToolDefinition,
    Usage,
)
from agent_runner.llm._estimate import estimate_completion_tokens, estimate_prompt_tokens

ScriptAnswer = str | ToolCall | Sequence[ToolCall] | Completion | BaseException
"""A literal scripted answer."""
ScriptItem = ScriptAnswer | Callable[[ModelRequest], ScriptAnswer]
"""One scripted answer (see the module docstring)."""

_CHUNKS = re.compile(r"\S+\s*|\s+")


class ScriptedModelClient:
    """Answers from a script, in order; records every request in ``requests``.

    Args:
        script: the answers, one per call.
        model: the model name it reports (and pricing uses).
        default: the answer once the script is used up (default: raise ModelClientError).

    Example:
        >>> client = ScriptedModelClient(["Hello!"])
        >>> agent = LLMAgent(client, system_prompt="Be kind.")
    """

    def __init__(
        self,
        script: Iterable[ScriptItem] = (),
        *,
        model: str = "scripted",
        default: ScriptItem | None = None,
    ) -> None:
        self._script: deque[ScriptItem] = deque(script)
        self._model = model
        self._default = default
        self.requests: list[ModelRequest] = []
        self.closed = False

    provider = "scripted"
    """``gen_ai.provider.name`` on this client's model call spans (agent_runner.tracing)."""

    @property
    def model(self) -> str:
        return self._model

    @property
    def remaining(self) -> int:
        """Script items not used yet."""
        return len(self._script)

    def add(self, *items: ScriptItem) -> None:
        """Append answers to the script."""
        self._script.extend(items)

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[ToolDefinition] = (),
        tool_choice: ToolChoice | None = None,
        max_output_tokens: int | None = None,
        on_text: TextCallback | None = None,
    ) -> Completion:
        request = ModelRequest(
            messages=tuple(messages),
            tools=tuple(tools),
            tool_choice=tool_choice,
            max_output_tokens=max_output_tokens,
            stream=on_text is not None,
        )
        self.requests.append(request)
        if self._script:
            item = self._script.popleft()
        elif self._default is not None:
            item = self._default
        else:
            raise ModelClientError(
                f"ScriptedModelClient: the script is used up after {len(self.requests) - 1} calls"
            )
        completion = _to_completion(item, request, self._model)
        if on_text is not None and completion.content:
            for piece in _CHUNKS.findall(completion.content):
                await on_text(piece)
        return completion

    async def close(self) -> None:
        self.closed = True


def _to_completion(item: ScriptItem, request: ModelRequest, model: str) -> Completion:
    if callable(item) and not isinstance(item, ToolCall | Completion | BaseException):
        item = item(request)
    if isinstance(item, BaseException):
        raise item
    if isinstance(item, Completion):
        return item
    if isinstance(item, str):
        content: str | None = item
        calls: tuple[ToolCall, ...] = ()
    elif isinstance(item, ToolCall):
        content, calls = None, (item,)
    elif isinstance(item, Sequence) and all(isinstance(c, ToolCall) for c in item):
        content, calls = None, tuple(c for c in item if isinstance(c, ToolCall))
    else:
        raise TypeError(f"not a script item: {item!r}")
    usage = Usage(
        input_tokens=estimate_prompt_tokens(request.messages, request.tools),
        output_tokens=estimate_completion_tokens(content, calls),
        estimated=True,
    )
    finish = "tool_calls" if calls else "stop"
    return Completion(
        content=content, tool_calls=calls, usage=usage, model=model, finish_reason=finish
    )


__all__ = ["ScriptAnswer", "ScriptItem", "ScriptedModelClient"]
