"""Suite-wide setup: the operator endpoint is off unless a test turns it on.

Every ``AgentRuntime`` serves the operator endpoint on 127.0.0.1:8081 by default; runtimes
of parallel tests (and the subprocesses they start) would fight over that port, so the suite
runs with ``AGENT_RUNNER_ADMIN_PORT=0``. Tests of the endpoint pass ``admin=AdminSettings(...)``
with a free port, or set the variable in a subprocess's environment.
"""

import os

os.environ["AGENT_RUNNER_ADMIN_PORT"] = "0"
