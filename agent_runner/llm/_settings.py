"""LLM settings from the environment (:class:`LLMSettings`) and the agent they build:
:func:`agent_from_env`.

Variables (all optional; with none of the first three set there is no model endpoint):

- ``LLM_BASE_URL``: an OpenAI-compatible endpoint (OpenRouter, Ollama, vLLM, llama.cpp);
  unset means OpenAI's.
- ``LLM_API_KEY`` or ``OPENAI_API_KEY``: the key (local servers need none).
- ``LLM_MODEL``: the model name (default ``gpt-4o-mini`` on OpenAI; required with
  ``LLM_BASE_URL``).
- ``LLM_VISION_MODELS``: model name patterns that accept images; ``LLM_IMAGE_TURNS`` (2):
  how many of the latest turns with images send them.
- ``LLM_TIMEOUT`` (60), ``LLM_MAX_RETRIES`` (3), ``LLM_MAX_OUTPUT_TOKENS`` (1024),
  ``LLM_MAX_STEPS`` (8), ``LLM_TEMPERATURE`` (the endpoint's default).

The MCP servers ``MCP_SERVERS`` declares (:mod:`agent_runner.mcp`) are added to the tools.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from agent_runner.errors import ConfigurationError
from agent_runner.llm._agent import LLMAgent
from agent_runner.llm._tools import Tool, ToolSource
from agent_runner.llm._vision import DEFAULT_IMAGE_TURNS, DEFAULT_VISION_MODELS, sees_images
from agent_runner.settings import read_settings

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"


class LLMSettings(BaseSettings):
    """The ``LLM_*`` variables (and ``OPENAI_API_KEY``), read from the environment (the CLI
    loads ``.env`` into it)."""

    model_config = SettingsConfigDict(
        env_prefix="LLM_", extra="ignore", populate_by_name=True, env_ignore_empty=True
    )

    base_url: str | None = None
    api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("LLM_API_KEY", "OPENAI_API_KEY", "api_key")
    )
    model: str | None = None
    timeout: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=10)
    max_output_tokens: int | None = Field(default=1024, gt=0)
    max_steps: int = Field(default=8, ge=1, le=64)
    temperature: float | None = Field(default=None, ge=0, le=2)
    vision_models: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_VISION_MODELS)
    )
    """Comma-separated model name patterns (``gpt-4o*``, ``llava*``) that accept images: they
    get image attachments as image content parts, other models a text listing."""
    image_turns: int = Field(default=DEFAULT_IMAGE_TURNS, ge=0, le=50)
    """How many of the latest turns with images send them to the model (0: none)."""

    @field_validator("vision_models", mode="before")
    @classmethod
    def _split_patterns(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator(
        "base_url", "model", "api_key", "max_output_tokens", "temperature", mode="before"
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def configured(self) -> bool:
        """True when a model endpoint is configured (a base URL or an API key)."""
        return self.base_url is not None or self.api_key is not None


def agent_from_env(
    *,
    system_prompt: str,
    tools: Sequence[Tool | ToolSource | Callable[..., Any]] = (),
    settings: LLMSettings | None = None,
    **options: Any,
) -> LLMAgent | None:
    """An :class:`LLMAgent` on an :class:`OpenAIClient` configured by ``LLM_*``, or None.

    Args:
        system_prompt: the agent's instructions.
        tools: the tools it may call; the servers of ``MCP_SERVERS`` are added.
        settings: explicit settings (default: read from the environment).
        **options: more :class:`LLMAgent` options (``max_tool_calls``, ``timeout``...).

    Returns:
        None when no endpoint is configured (no ``LLM_BASE_URL``, ``LLM_API_KEY`` or
        ``OPENAI_API_KEY``), so the caller can fall back to an offline agent.

    Raises:
        ConfigurationError: ``LLM_BASE_URL`` is set without ``LLM_MODEL``, or
            ``MCP_SERVERS`` is invalid.

    Example:
        >>> agent = agent_from_env(system_prompt="You are helpful.") or offline_agent
    """
    from agent_runner.llm._openai import OpenAIClient

    settings = settings or read_settings(LLMSettings)
    if not settings.configured:
        return None
    model = settings.model
    if model is None:
        if settings.base_url is not None:
            raise ConfigurationError("LLM_BASE_URL is set but LLM_MODEL is not: name the model")
        model = DEFAULT_OPENAI_MODEL
    from agent_runner.mcp import servers_from_env  # mcp imports llm: imported when used

    tools = [*tools, *servers_from_env()]
    client = OpenAIClient(
        model=model,
        base_url=settings.base_url,
        api_key=settings.api_key.get_secret_value() if settings.api_key else None,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        temperature=settings.temperature,
    )
    options.setdefault("max_steps", settings.max_steps)
    options.setdefault("max_output_tokens", settings.max_output_tokens)
    options.setdefault("vision", sees_images(model, settings.vision_models))
    options.setdefault("image_turns", settings.image_turns)
    return LLMAgent(client, system_prompt=system_prompt, tools=tools, **options)


__all__ = ["DEFAULT_OPENAI_MODEL", "LLMSettings", "agent_from_env"]
