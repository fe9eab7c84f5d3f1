"""The distributed runtime: the core's MessageRuntime over Redis Streams, and RedisStore.

Needs the ``redis`` extra (``pip install 'agent-runner[redis]'``). The wire format, for
workers in other languages, is in ``docs/concepts/distributed.md``.
"""

from agent_runner.distributed._acl import acl_rules
from agent_runner.distributed._distributed_errors import PayloadTooLargeError, RemoteError
from agent_runner.distributed._distributed_runtime import DistributedAgentRuntime
from agent_runner.distributed._store import RedisStore
from agent_runner.distributed._worker_cli import worker_command

__all__ = [
    "DistributedAgentRuntime",
    "PayloadTooLargeError",
    "RedisStore",
    "RemoteError",
    "acl_rules",
    "worker_command",
]
