"""An OpenAI-compatible chat client: OpenAI, OpenRouter, Ollama, vLLM, llama.cpp server...

The ``openai`` package is imported here only, when a client is built. The SDK's own retries
are off: this client owns them (429, 408/409 and 5xx, connection errors and timeouts are
retried with capped backoff that honours ``Retry-After``; anything else fails at once), so
the cap is ours and the waits are visible in the logs. The wire format (request fields,
responses, streamed chunks) is :mod:`agent_runner.llm._chat_completions`.

::

    client = OpenAIClient(model="llama3.1", base_url="http://localhost:11434/v1")
    completion = await client.complete([ChatMessage.user("hi")])
    await client.close()
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from agent_runner.backoff import RetryPolicy, is_retryable_status, retry_after_from_headers
from agent_runner.errors import ConfigurationError, ModelClientError
from agent_runner.llm._chat_completions import (
    StreamState,
    completion_from_response,
    to_openai_message,
    to_openai_tool,
    with_estimated_usage,
)
from agent_runner.llm._client import (
    ChatMessage,
    Completion,
    TextCallback,
    ToolChoice,
    ToolDefinition,
)

logger = logging.getLogger("agent_runner.llm")

_LOCAL_API_KEY = "not-needed"
"""Sent when a base_url is set without a key: local servers ignore it, the SDK wants one."""

DEFAULT_RETRY = RetryPolicy(retries=3, base=0.5, cap=8.0, jitter="equal", max_retry_after=60.0)
"""Model calls retry 408/409/425/429/5xx and network errors: equal-jittered backoff from 0.5 s
up to 8 s, a server's ``Retry-After`` up to 60 s (longer: the error is raised at once)."""


class ModelResponseError(ModelClientError):
    """The endpoint refused or failed a call (after the client's capped retries).

    Attributes:
        status_code: the HTTP status, or None for a connection error or timeout.
        retry_after: the server's ``Retry-After`` in seconds, if it sent one.
        attempts: how many calls were made.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after = retry_after
        self.attempts = attempts


class OpenAIClient:
    """A :class:`~agent_runner.llm.ModelClient` for any OpenAI-compatible endpoint.

    Args:
        model: the model name sent with every call (``"gpt-4o-mini"``,
            ``"meta-llama/llama-3.1-8b-instruct"``, ``"llama3.1"``...).
        base_url: the endpoint, e.g. ``"https://openrouter.ai/api/v1"`` or
            ``"http://localhost:11434/v1"`` (default: OpenAI's).
        api_key: the key (default: ``OPENAI_API_KEY``; a placeholder when ``base_url`` is set,
            for local servers that need none).
        timeout: seconds per call attempt (for a streamed answer: the longest silence).
        max_retries: retries after the first attempt, for transient failures.
        temperature: sampling temperature (default: the endpoint's).
        max_tokens_param: the request field for the output cap: ``"max_tokens"`` (understood
            everywhere) or ``"max_completion_tokens"`` (OpenAI's reasoning models).
        default_headers: extra headers on every call (e.g. OpenRouter's ``HTTP-Referer``).
        extra_body: extra request fields for every call (endpoint-specific options).
        retry: backoff caps (default :data:`DEFAULT_RETRY`; ``max_retries`` above wins over
            ``retry.retries``).
        sleep: the wait between retries (tests inject one that records the delays).

    Example:
        >>> client = OpenAIClient(model="gpt-4o-mini", api_key="sk-...")
        >>> agent = LLMAgent(client, system_prompt="You are helpful.")
    """

    provider = "openai"
    """``gen_ai.provider.name`` on this client's model call spans (agent_runner.tracing)."""

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        temperature: float | None = None,
        max_tokens_param: str = "max_tokens",
        default_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not model:
            raise ConfigurationError("OpenAIClient needs a model name")
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        try:
            import openai
        except ImportError:
            raise ConfigurationError(
                "OpenAIClient needs the openai package: pip install 'agent-runner[llm]'"
            ) from None

        self._openai = openai
        self._model = model
        self._timeout = timeout
        self._retry = dataclasses.replace(retry or DEFAULT_RETRY, retries=max_retries)
        self._temperature = temperature
        self._max_tokens_param = max_tokens_param
        self._extra_body = dict(extra_body or {})
        self._sleep = sleep
        if api_key is None and base_url is not None:
            import os

            api_key = os.environ.get("OPENAI_API_KEY") or _LOCAL_API_KEY
        try:
            self._client = openai.AsyncOpenAI(
                api_key=api_key,
                base_url=base_url,
                timeout=timeout,
                max_retries=0,
                default_headers=dict(default_headers or {}) or None,
            )
        except openai.OpenAIError as exc:
            raise ConfigurationError(f"cannot build the OpenAI client: {exc}") from None
        self._transient: tuple[type[BaseException], ...] = (
            openai.APIConnectionError,  # includes APITimeoutError
            TimeoutError,
        )

    @property
    def model(self) -> str:
        return self._model

    @property
    def base_url(self) -> str:
        return str(self._client.base_url)

    async def close(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> OpenAIClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[ToolDefinition] = (),
        tool_choice: ToolChoice | None = None,
        max_output_tokens: int | None = None,
        on_text: TextCallback | None = None,
    ) -> Completion:
        request = self._request(messages, tools, tool_choice, max_output_tokens)
        attempt = 0
        while True:
            state = StreamState()
            try:
                if on_text is None:
                    async with asyncio.timeout(self._timeout):
                        completion = await self._create(request)
                else:
                    completion = await self._stream(request, on_text, state)
            except ModelClientError:
                raise
            except self._openai.APIStatusError as exc:
                status = exc.status_code
                retry_after = retry_after_from_headers(exc.response.headers, now=time.time())
                reason = f"{status} {_error_text(exc)}"
                retryable = is_retryable_status(status)
            except self._transient as exc:
                status, retry_after = None, None
                reason = _describe(exc, self._timeout)
                retryable = True
            except self._openai.APIError as exc:
                raise ModelResponseError(
                    f"{self._model}: bad response: {exc}", attempts=attempt + 1
                ) from exc
            else:
                return with_estimated_usage(completion, messages, tools)
            delay = None
            if retryable and not state.streamed:
                delay = self._retry.wait(attempt + 1, retry_after=retry_after)
            if delay is None:
                why = self._why_not(retryable, state.streamed, retry_after, attempt)
                raise ModelResponseError(
                    f"{self._model} at {self.base_url}: {reason} ({why})",
                    status_code=status,
                    retry_after=retry_after,
                    attempts=attempt + 1,
                )
            logger.warning(
                "model call failed (%s); retry %d/%d in %.2f s",
                reason,
                attempt + 1,
                self._retry.retries,
                delay,
            )
            await self._sleep(delay)
            attempt += 1

    def _why_not(
        self, retryable: bool, streamed: bool, retry_after: float | None, attempt: int
    ) -> str:
        """Why a failed call is not retried, for the error message."""
        if not retryable:
            return "not retryable"
        if streamed:
            return "the answer was partly streamed already"
        limit = self._retry.max_retry_after
        if limit is not None and retry_after is not None and retry_after > limit:
            return f"Retry-After {retry_after:.0f} s is over the {limit:g} s cap"
        return f"gave up after {attempt + 1} attempts"

    def _request(
        self,
        messages: Sequence[ChatMessage],
        tools: Sequence[ToolDefinition],
        tool_choice: ToolChoice | None,
        max_output_tokens: int | None,
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self._model,
            "messages": [to_openai_message(m) for m in messages],
        }
        if tools:
            request["tools"] = [to_openai_tool(t) for t in tools]
            if tool_choice is not None:
                request["tool_choice"] = tool_choice
        if max_output_tokens is not None:
            request[self._max_tokens_param] = max_output_tokens
        if self._temperature is not None:
            request["temperature"] = self._temperature
        if self._extra_body:
            request["extra_body"] = self._extra_body
        return request

    async def _create(self, request: dict[str, Any]) -> Completion:
        completions: Any = self._client.chat.completions
        response = await completions.create(**request, timeout=self._timeout)
        if not response.choices:
            raise ModelResponseError(f"{self._model}: the response has no choices")
        return completion_from_response(response, self._model)

    async def _stream(
        self, request: dict[str, Any], on_text: TextCallback, state: StreamState
    ) -> Completion:
        completions: Any = self._client.chat.completions
        stream = await completions.create(
            **request,
            stream=True,
            stream_options={"include_usage": True},
            timeout=self._timeout,
        )
        async with stream:
            async for chunk in stream:
                for text in state.add(chunk):
                    await on_text(text)
        return state.completion(self._model)


def _error_text(exc: Any) -> str:
    """The endpoint's own error message, short (never the request, which may hold secrets)."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])[:300]
        if isinstance(inner, str):
            return inner[:300]
    return str(getattr(exc, "message", "") or type(exc).__name__)[:300]


def _describe(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError) or "timeout" in type(exc).__name__.lower():
        return f"timed out after {timeout:g} s"
    cause = exc.__cause__ or exc.__context__
    detail = f": {cause}" if cause is not None else ""
    return f"connection failed ({type(exc).__name__}{detail})"[:300]


__all__ = ["DEFAULT_RETRY", "ModelResponseError", "OpenAIClient"]
