"""Checking and normalising AgentRuntime's configuration (raising ConfigurationError early)."""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Collection, Mapping, Sequence

from agent_runner.agent import Agent, AgentFunction
from agent_runner.connector import AgentInput, AgentOutput
from agent_runner.core import MessageRuntime, SingleThreadedAgentRuntime
from agent_runner.errors import ConfigurationError
from agent_runner.message import KEY_SEPARATOR, SOURCE_RULE
from agent_runner.runner.guards import LoopGuard
from agent_runner.store import Store

_log = logging.getLogger("agent_runner.runtime")


def agent_function(agent: Agent | AgentFunction) -> AgentFunction:
    """The coroutine function to call: ``agent.execute`` or the async function itself."""
    execute = getattr(agent, "execute", None)
    if execute is not None and callable(execute):
        return execute  # type: ignore[no-any-return]
    if callable(agent) and (
        inspect.iscoroutinefunction(agent)
        or inspect.iscoroutinefunction(getattr(agent, "__call__", None))  # noqa: B004
    ):
        return agent
    raise ConfigurationError(
        f"agent must have an async execute(message, context) method or be an async "
        f"function (message, context), not {type(agent).__name__}"
    )


def checked_inputs(inputs: Sequence[AgentInput]) -> list[AgentInput]:
    """``inputs`` as a list, each name usable in keys (see :func:`check_name`)."""
    for connector in inputs:
        check_name(connector.name)
    return list(inputs)


def check_name(name: str) -> None:
    """A connector name must be non-empty and free of ``:`` (keys are joined with it)."""
    if not name or KEY_SEPARATOR in name:
        raise ConfigurationError(f"connector name {name!r}: {SOURCE_RULE}")


def outputs_by_name(outputs: Sequence[AgentOutput]) -> dict[str, AgentOutput]:
    """Outputs by ``name`` (two different outputs may not share a name; no ``:`` in one)."""
    by_name: dict[str, AgentOutput] = {}
    for output in outputs:
        check_name(output.name)
        if output.name in by_name and by_name[output.name] is not output:
            raise ConfigurationError(f"two outputs are named {output.name!r}")
        by_name[output.name] = output
    return by_name


def check_routes(
    routes: Mapping[str, Sequence[str]] | None, outputs: Mapping[str, AgentOutput]
) -> dict[str, tuple[str, ...]] | None:
    """``routes`` with every named output known (an unknown name is a typo: fail early)."""
    if routes is None:
        return None
    checked: dict[str, tuple[str, ...]] = {}
    for source, names in routes.items():
        if isinstance(names, str):
            raise ConfigurationError(f"routes[{source!r}] must be a list of output names")
        unknown = [n for n in names if n not in outputs]
        if unknown:
            raise ConfigurationError(f"routes[{source!r}] names unknown outputs {unknown}")
        checked[source] = tuple(names)
    return checked


def loop_guard(ignore: Collection[str], allow_bots: bool, max_depth: int) -> LoopGuard:
    """The loop guard settings, checked."""
    try:
        return LoopGuard.of(ignore_authors=ignore, allow_bots=allow_bots, max_reply_depth=max_depth)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


def source_of(data: object) -> str:
    """The ``source`` of raw input data, for a log line about refusing it (``"?"``: none)."""
    if isinstance(data, Mapping):
        return repr(data.get("source", "?"))[:80]
    return "?"


def default_store(name: str | None = None) -> Store:
    """``SQLiteStore($AGENT_RUNNER_DATA_DIR/{bot name}.sqlite3)`` (not opened): one store
    per bot (:attr:`~agent_runner.settings.RunnerSettings.store_path`)."""
    from agent_runner.settings import load_settings, store_path
    from agent_runner.store import SQLiteStore

    settings = load_settings()
    return SQLiteStore(store_path(settings.data_dir, name or settings.name))


def hosts_conversations(setting: bool | None, runtime: MessageRuntime) -> bool:
    """Whether the runner hosts its conversation turns: ``setting``, else
    ``AGENT_RUNNER_HOST_CONVERSATIONS``. Not hosting needs a runtime other processes share.

    Raises:
        ConfigurationError: not hosting on an in-process runtime (nothing would run turns).
    """
    if setting is None:  # only this variable: a bot given its store reads no other setting
        from agent_runner.settings import load_settings

        setting = "AGENT_RUNNER_HOST_CONVERSATIONS" not in os.environ or (
            load_settings().host_conversations
        )
    if not setting and isinstance(runtime, SingleThreadedAgentRuntime):
        raise ConfigurationError(
            "host_conversations=False (AGENT_RUNNER_HOST_CONVERSATIONS=false) needs a "
            "distributed core runtime (REDIS_URL and runtime_from_env(), or "
            "runtime=DistributedAgentRuntime(...)): on this process's own runtime nothing "
            "would run the conversations"
        )
    if not setting:
        _log.info("hosting no conversations here: other replicas and workers run the turns")
    return setting


__all__ = [
    "agent_function",
    "check_name",
    "check_routes",
    "checked_inputs",
    "default_store",
    "hosts_conversations",
    "loop_guard",
    "outputs_by_name",
    "source_of",
]
