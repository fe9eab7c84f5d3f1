"""Tools from plain Python functions: the JSON schema comes from the type hints (pydantic),
the descriptions from the docstring, the arguments are validated before the call.

::

    def get_weather(city: str, unit: Literal["C", "F"] = "C") -> str:
        \"\"\"Current weather in a city.

        Args:
            city: the city's name, e.g. "Paris".
            unit: degrees Celsius or Fahrenheit.
        \"\"\"
        ...

    agent = LLMAgent(client, system_prompt="...", tools=[get_weather])   # or Tool(get_weather)

Async functions are awaited; sync functions run in a worker thread, so they may block. A
parameter annotated :class:`~agent_runner.AgentContext` is not shown to the model: the
agent passes the current context in.

A tool whose schema is given rather than derived (``Tool(call, parameters=schema)``, as
:mod:`agent_runner.mcp` builds for an MCP server's tools) receives the model's arguments as
keyword arguments, checked only for being a JSON object: its implementation validates them.
A :class:`ToolSource` offers tools that change at run time (an MCP server's); the agent asks
it for its current tools at each message. A tool raises :class:`~agent_runner.errors.ToolError`
to tell the model what went wrong in one line.

A tool may be marked ``requires_approval`` (``True``, or a predicate on the validated
arguments): a person approves each such call before it runs when the agent has
``approvals`` (:mod:`agent_runner.approvals`); without them the call runs without asking.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeAlias, overload, runtime_checkable

import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.fields import FieldInfo

from agent_runner.agent import AgentContext
from agent_runner.llm._client import ToolDefinition

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SECTION = re.compile(
    r"^\s*(Args|Arguments|Parameters|Returns|Raises|Yields|Example|Examples|Note|Notes):\s*$"
)
_ARG_LINE = re.compile(r"^\s*(\*{0,2}\w+)\s*(?:\(.*?\))?\s*:\s*(.*)$")

ApprovalRule: TypeAlias = bool | Callable[[Mapping[str, Any]], bool]
"""Whether a tool call needs a person's approval: always, never, or decided per call from the
validated arguments."""


class ToolArgumentsError(ValueError):
    """The model's arguments for a tool are not valid JSON or do not match the schema."""


class Tool:
    """A function the model may call.

    Args:
        func: a sync or async function with type hints (unannotated parameters accept any
            JSON value).
        name: the name shown to the model (default: the function's name; letters, digits,
            ``_`` and ``-``, at most 64).
        description: what the tool does (default: the docstring's summary).
        parameters: the JSON schema of the arguments, when it is not to be derived from the
            signature (an MCP server's tool): ``func`` then gets the model's arguments as
            keyword arguments, unvalidated beyond being a JSON object.
        requires_approval: ``True`` when every call should be approved by a person first, or a
            predicate on the validated arguments deciding per call (see the module docstring).

    Examples:
        >>> async def add(a: int, b: int) -> int:
        ...     \"\"\"Add two integers.\"\"\"
        ...     return a + b
        >>> Tool(add).definition.parameters["required"]
        ['a', 'b']
    """

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        requires_approval: ApprovalRule = False,
    ) -> None:
        self.func = func
        self.requires_approval: ApprovalRule = requires_approval
        self.name: str = name or str(getattr(func, "__name__", ""))
        if not _NAME.match(self.name):
            raise ValueError(f"tool name {self.name!r} must be 1-64 letters, digits, '_' or '-'")
        self._is_async = inspect.iscoroutinefunction(func) or (
            not inspect.isroutine(func) and inspect.iscoroutinefunction(type(func).__call__)
        )
        self._context_params: list[str] = []
        self._model: type[BaseModel] | None = None
        self._fields: tuple[str, ...] = ()
        if parameters is not None:
            self.description = description or ""
            self.parameters: dict[str, Any] = _object_schema(parameters)
            return
        summary, arg_docs = _parse_docstring(inspect.getdoc(func) or "")
        self.description = description if description is not None else summary
        signature = inspect.signature(func)
        fields: dict[str, Any] = {}
        for param in signature.parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            annotation = _resolve(param.annotation, func, param.name)
            if annotation is AgentContext:
                self._context_params.append(param.name)
                continue
            if annotation is inspect.Parameter.empty:
                annotation = Any
            if isinstance(param.default, FieldInfo):
                info = param.default
            else:
                default = ... if param.default is inspect.Parameter.empty else param.default
                described = arg_docs.get(param.name)
                info = Field(default, description=described) if described else Field(default)
            fields[param.name] = (annotation, info)
        self._model = create_model(
            f"{self.name}_arguments", __config__=ConfigDict(extra="ignore"), **fields
        )
        self._fields = tuple(self._model.model_fields)
        self.parameters = _strip_titles(self._model.model_json_schema())
        self.parameters.setdefault("properties", {})

    @property
    def definition(self) -> ToolDefinition:
        """The name, description and schema sent to the model."""
        return ToolDefinition(
            name=self.name, description=self.description, parameters=self.parameters
        )

    def needs_approval(self, arguments: str | Mapping[str, Any]) -> bool:
        """Whether this call (the model's raw or validated arguments) needs approval.

        Raises ToolArgumentsError for bad arguments when a predicate has to look at them.
        """
        rule = self.requires_approval
        if isinstance(rule, bool):
            return rule
        return bool(rule(self.parse_arguments(arguments)))

    def parse_arguments(self, arguments: str | Mapping[str, Any]) -> dict[str, Any]:
        """Validate the model's arguments; raise ToolArgumentsError with a readable reason."""
        if isinstance(arguments, str):
            text = arguments.strip() or "{}"
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ToolArgumentsError(f"arguments are not valid JSON ({exc})") from None
        else:
            data = dict(arguments)
        if not isinstance(data, dict):
            raise ToolArgumentsError(f"arguments must be a JSON object, not {type(data).__name__}")
        if self._model is None:
            return data  # a given schema: the implementation validates
        try:
            model = self._model.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}"
                for err in exc.errors(include_url=False)[:5]
            )
            raise ToolArgumentsError(f"invalid arguments: {problems}") from None
        return {key: getattr(model, key) for key in self._fields}

    async def run(
        self, arguments: str | Mapping[str, Any], *, context: AgentContext | None = None
    ) -> str:
        """Validate ``arguments``, call the function and return its result as text.

        A ``str`` result is returned as is; anything else is encoded as JSON (pydantic
        models, dataclasses, dates included). Raises ToolArgumentsError for bad arguments
        and whatever the function raises.
        """
        kwargs = self.parse_arguments(arguments)
        for param in self._context_params:
            kwargs[param] = context
        if self._is_async:
            result = await self.func(**kwargs)
        else:
            result = await asyncio.to_thread(self.func, **kwargs)
            if inspect.isawaitable(result):
                result = await result
        return format_result(result)

    def __repr__(self) -> str:
        return f"Tool(name={self.name!r})"


@runtime_checkable
class ToolSource(Protocol):
    """Tools that may change while the agent runs (an MCP server's): :class:`LLMAgent` asks
    for the current ones at each message and closes the source when it closes."""

    async def list_tools(self) -> Sequence[Tool]:
        """The tools to offer now (starting the source on first use; never raises)."""
        ...

    async def close(self) -> None:
        """Release what the source holds (sessions, processes)."""
        ...


@overload
def tool(func: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    requires_approval: ApprovalRule = False,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    requires_approval: ApprovalRule = False,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Decorator form of :class:`Tool`: ``@tool`` or ``@tool(name="search")``."""
    if func is not None:
        return Tool(func)

    def wrap(f: Callable[..., Any]) -> Tool:
        return Tool(f, name=name, description=description, requires_approval=requires_approval)

    return wrap


def format_result(result: Any) -> str:
    """A tool's return value as the text the model reads."""
    if isinstance(result, str):
        return result
    if result is None:
        return "null"
    return pydantic_core.to_json(result, fallback=str).decode()


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into its summary and per-argument descriptions."""
    summary: list[str] = []
    args: dict[str, str] = {}
    section: str | None = None
    base_indent: int | None = None
    current: str | None = None
    for line in doc.splitlines():
        header = _SECTION.match(line)
        if header:
            section, base_indent, current = header.group(1), None, None
            continue
        if section is None:
            summary.append(line)
            continue
        if section not in ("Args", "Arguments", "Parameters") or not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if base_indent is None:
            base_indent = indent
        match = _ARG_LINE.match(line)
        if match and indent <= base_indent:
            current = match.group(1).lstrip("*")
            args[current] = match.group(2).strip()
        elif current is not None:
            args[current] = f"{args[current]} {line.strip()}".strip()
    text = "\n".join(summary).strip()
    return re.sub(r"\s*\n\s*\n\s*", "\n\n", text), args


def _resolve(annotation: Any, func: Callable[..., Any], name: str) -> Any:
    """Evaluate a string annotation (``from __future__ import annotations``) in the
    function's module."""
    if not isinstance(annotation, str):
        return annotation
    target = inspect.unwrap(func)
    if not inspect.isroutine(target):
        target = type(target).__call__
    namespace = dict(getattr(target, "__globals__", {}))
    try:
        return eval(annotation, namespace)  # a type hint, evaluated as inspect does
    except NameError as exc:
        raise TypeError(
            f"cannot resolve the type hint {annotation!r} of parameter {name!r}: {exc} "
            "(define the type at module level)"
        ) from None


def _object_schema(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """A given arguments schema as the model expects it: an object with ``properties``."""
    schema: dict[str, Any] = json.loads(json.dumps(dict(parameters)))  # a plain-JSON deep copy
    schema.setdefault("type", "object")
    schema.setdefault("properties", {})
    return schema


def _strip_titles(schema: Any) -> Any:
    """Drop pydantic's generated ``title`` strings (noise for the model, tokens for the bill)."""
    if isinstance(schema, dict):
        return {
            key: _strip_titles(value)
            for key, value in schema.items()
            if not (key == "title" and isinstance(value, str))
        }
    if isinstance(schema, list):
        return [_strip_titles(item) for item in schema]
    return schema


__all__ = ["ApprovalRule", "Tool", "ToolArgumentsError", "ToolSource", "format_result", "tool"]
