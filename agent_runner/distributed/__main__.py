"""``python -m agent_runner.distributed MODULE ...``: the same as ``agent-runner worker``."""

import sys

from agent_runner.distributed._worker_cli import worker_command

raise SystemExit(worker_command(sys.argv[1:]))
