"""The sandbox as tools for :class:`~agent_runner.llm.LLMAgent`.

::

    sandbox = Sandbox()
    agent = LLMAgent(client, system_prompt="...", tools=[*sandbox_tools(sandbox), ...])

``run_python`` (and ``run_shell`` when the sandbox has ``allow_shell=True``) return the run as
text (:meth:`~agent_runner.sandbox.SandboxResult.for_model`). They are marked
``requires_approval=True`` by default: an ``LLMAgent`` given ``approvals`` pauses the turn
until a person approves each call (:mod:`agent_runner.approvals`); without ``approvals`` it
runs them without asking.
"""

from __future__ import annotations

from agent_runner.llm import ApprovalRule, Tool
from agent_runner.sandbox.sandbox import Sandbox


def sandbox_tools(sandbox: Sandbox, *, requires_approval: ApprovalRule = True) -> list[Tool]:
    """``run_python``, and ``run_shell`` when ``sandbox.allow_shell``, running in ``sandbox``.

    Args:
        sandbox: where the code runs.
        requires_approval: the approval mark of both tools (default: every call).
    """
    limits = sandbox.limits
    where = (
        f"in an isolated sandbox (no network, a private working directory, "
        f"{limits.wall_time:g} s and {limits.memory_bytes // (1024 * 1024)} MiB at most)"
    )

    async def run_python(code: str) -> str:
        """Run a Python 3 program and see what it prints.

        Args:
            code: the whole program; print() what you want to see.
        """
        return (await sandbox.run_python(code)).for_model()

    tools = [
        Tool(
            run_python,
            description=(
                f"Run a Python 3 program {where}. Returns its exit status, stdout, stderr and "
                "the files it wrote in its working directory. Only the standard library is "
                "sure to be there; print() the results you need."
            ),
            requires_approval=requires_approval,
        )
    ]
    if sandbox.allow_shell:

        async def run_shell(command: str) -> str:
            """Run a shell command and see its output.

            Args:
                command: a /bin/sh command line.
            """
            return (await sandbox.run_shell(command)).for_model()

        tools.append(
            Tool(
                run_shell,
                description=(
                    f"Run a /bin/sh command {where}. Returns its exit status, stdout, stderr "
                    "and the files it wrote in its working directory."
                ),
                requires_approval=requires_approval,
            )
        )
    return tools


__all__ = ["sandbox_tools"]
