"""Run model-written code in a separate, isolated, limited process.

::

    from agent_runner.sandbox import Sandbox, SandboxLimits, sandbox_tools

    sandbox = Sandbox(limits=SandboxLimits(wall_time=5.0, memory_bytes=256 * 1024 * 1024))
    result = await sandbox.run_python("print(2 ** 100)")
    result.stdout, result.exit_code, result.limits, result.files

    agent = LLMAgent(client, system_prompt="...", tools=sandbox_tools(sandbox))

Isolation is bubblewrap (Debian's ``bubblewrap``: no network, a read-only view of the
system, a private work dir and ``/tmp``, its own process tree) where it works, else a weaker
fallback (limits and a private temp dir, no filesystem or network isolation) announced by a
WARNING. What each stops is in :mod:`agent_runner.sandbox.sandbox`; how each limit is enforced
in :mod:`agent_runner.sandbox.limits`.
"""

from agent_runner.errors import SandboxError
from agent_runner.sandbox.limits import Limit, SandboxLimits
from agent_runner.sandbox.result import Isolation, SandboxFile, SandboxResult
from agent_runner.sandbox.sandbox import IsolationChoice, Sandbox
from agent_runner.sandbox.tool import sandbox_tools

__all__ = [
    "Isolation",
    "IsolationChoice",
    "Limit",
    "Sandbox",
    "SandboxError",
    "SandboxFile",
    "SandboxLimits",
    "SandboxResult",
    "sandbox_tools",
]
