"""A worker written in JavaScript (Node.js + npm ``redis``) answers RPCs from Python agents.

The npm package is installed at test time into a cache folder (outside the repository);
without node/npm or the npm registry the test skips, or fails under CI=true.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis.asyncio as redis

from agent_runner.core import (
    AgentId,
    CantHandleException,
    MessageContext,
    RoutedAgent,
    rpc,
    try_get_known_serializers_for_type,
)
from agent_runner.distributed import DistributedAgentRuntime
from tests.distributed._servers import unavailable
from tests.distributed._workers import lease_holders, wait_for

JS = Path(__file__).resolve().parent / "js"
PARTITIONS = 4


@dataclass
class Ping:
    text: str


@dataclass
class Pong:
    text: str


@dataclass
class Relay:
    key: str
    text: str


class Asker(RoutedAgent):
    """A Python agent that asks the JavaScript agent."""

    def __init__(self) -> None:
        super().__init__("asks jsecho")

    @rpc
    async def on_relay(self, message: Relay, ctx: MessageContext) -> Pong:
        reply: Pong = await self.send_message(Ping(message.text), AgentId("jsecho", message.key))
        return reply


@pytest.fixture(scope="session")
def node_modules() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        unavailable("node and npm are needed for the JavaScript worker test")
    manifest = (JS / "package.json").read_bytes()
    digest = hashlib.sha256(manifest).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    target = cache / "agent-runner" / f"js-worker-{digest}"
    if not (target / "node_modules" / "redis").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        (target / "package.json").write_bytes(manifest)
        result = subprocess.run(
            [str(npm), "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=target,
            capture_output=True,
            timeout=180,
            check=False,
        )
        if result.returncode != 0:
            unavailable(f"npm install failed: {result.stderr.decode(errors='replace')[-500:]}")
    return target / "node_modules"


@pytest.fixture
def js_worker(node_modules: Path, redis_url: str, redis_prefix: str) -> Iterator[str]:
    env = {
        **os.environ,
        "NODE_PATH": str(node_modules),
        "REDIS_URL": redis_url,
        "PREFIX": redis_prefix,
        "WORKER_ID": "js1",
        "AGENT_TYPE": "jsecho",
        "PARTITIONS": str(PARTITIONS),
        "HEARTBEAT_MS": "100",
        "TTL_MS": "1000",
    }
    proc = subprocess.Popen(
        ["node", str(JS / "worker.js")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    yield "js1"
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    assert proc.returncode == 0, out.decode(errors="replace")


@pytest.fixture
async def runtime(redis_url: str, redis_prefix: str) -> AsyncIterator[DistributedAgentRuntime]:
    rt = DistributedAgentRuntime(
        redis_url, prefix=redis_prefix, heartbeat_interval=0.1, heartbeat_ttl=1.0, rpc_timeout=10
    )
    rt.add_message_serializer(try_get_known_serializers_for_type(Pong))
    await Asker.register(rt, "asker", Asker)
    rt.start()
    yield rt
    await rt.close()


async def test_javascript_worker_answers_python_agents(
    js_worker: str, runtime: DistributedAgentRuntime, redis_url: str, redis_prefix: str
) -> None:
    admin = redis.Redis.from_url(redis_url)
    try:

        async def owned() -> bool:
            holders = await lease_holders(admin, redis_prefix, "jsecho", PARTITIONS)
            return set(holders) == {js_worker}

        await wait_for(owned)
    finally:
        await admin.aclose()

    reply = await runtime.send_message(Relay("k1", "hi"), AgentId("asker", "a"))
    assert isinstance(reply, Pong)
    assert reply.text.startswith("js hi from asker/a to jsecho/k1")
    for key in ("k1", "k2", "other key/with slash"):
        direct = await runtime.send_message(Ping("x"), AgentId("jsecho", key))
        assert direct.text.startswith(f"js x from none to jsecho/{key}")
    # Concurrent calls: the caller packs several messages into one stream entry.
    many = await asyncio.gather(
        *(runtime.send_message(Ping(str(n)), AgentId("jsecho", f"k{n % 3}")) for n in range(50))
    )
    assert [p.text.split()[1] for p in many] == [str(n) for n in range(50)]
    with pytest.raises(CantHandleException, match="jsecho cannot handle Relay"):
        await runtime.send_message(Relay("k", "x"), AgentId("jsecho", "k"))
    metadata = await runtime.agent_metadata(AgentId("jsecho", "k9"))
    assert metadata["description"] == "a JavaScript agent"
