"""HandlerTasks: handlers that run in tasks of their own, counted per agent.

Agents of a class with ``concurrent_handling = True`` do not take turns: each of their
messages starts a task at once. An agent with such a task running is busy (never
deactivated) even when its mailbox is gone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from agent_runner.core._agent_id import AgentId


class HandlerTasks:
    """:meta private: The running concurrent handler tasks of a runtime.

    Args:
        on_done: Called when a task ends, with its agent's id when that was the agent's last
            running handler, else None.
    """

    __slots__ = ("_agents", "_on_done", "_tasks")

    def __init__(self, on_done: Callable[[AgentId | None], None]) -> None:
        self._tasks: dict[asyncio.Task[None], AgentId] = {}
        self._agents: dict[AgentId, int] = {}
        """Running handler tasks per agent."""
        self._on_done = on_done

    def __bool__(self) -> bool:
        return bool(self._tasks)

    def running(self, agent_id: AgentId) -> bool:
        """Whether a handler of ``agent_id`` is running in a task."""
        return agent_id in self._agents

    def start(self, agent_id: AgentId, turn: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(turn)
        self._tasks[task] = agent_id
        self._agents[agent_id] = self._agents.get(agent_id, 0) + 1
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        agent_id = self._tasks.pop(task, None)
        last = None
        if agent_id is not None:
            left = self._agents.get(agent_id, 1) - 1
            if left > 0:
                self._agents[agent_id] = left
            else:
                self._agents.pop(agent_id, None)
                last = agent_id
        self._on_done(last)

    def cancel(self) -> list[asyncio.Task[Any]]:
        """Cancel every task except the current one and return them to be awaited."""
        current = asyncio.current_task()
        cancelled: list[asyncio.Task[Any]] = []
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
                cancelled.append(task)
        return cancelled


__all__ = ["HandlerTasks"]
