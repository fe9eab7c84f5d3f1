"""One variable to scale: with REDIS_URL set, the main job (examples/run.py) and an
`agent-runner init` bot keep their store in Redis and share their conversations with every
replica; without it they run offline on SQLite (tests/test_cli.py)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as redis

from agent_runner.replicas import runtime_from_env, store_from_env
from agent_runner.settings import RunnerSettings

ROOT = Path(__file__).resolve().parents[2]
AGENT_RUNNER = Path(sys.executable).parent / "agent-runner"


@asynccontextmanager
async def replica(
    bot: Path, cwd: Path, redis_url: str, name: str, **extra: str
) -> AsyncIterator[str]:
    """`agent-runner run bot` with REDIS_URL set (``extra``: more environment variables);
    yields its HTTP URL; SIGTERM exits 0."""
    env = {**os.environ, "HTTP_PORT": "0", "REDIS_URL": redis_url, "AGENT_RUNNER_NAME": name}
    env.update(extra)
    env["AGENT_RUNNER_DATA_DIR"] = str(cwd / "data")
    env["PYTHONPATH"] = str(ROOT)
    for variable in ("LLM_BASE_URL", "LLM_API_KEY", "OPENAI_API_KEY"):
        env.pop(variable, None)
    proc = await asyncio.create_subprocess_exec(
        str(AGENT_RUNNER), "run", str(bot), cwd=cwd, env=env, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stderr is not None
    try:
        url, log = None, []
        async with asyncio.timeout(60):
            while line := (await proc.stderr.readline()).decode():
                log.append(line)
                if match := re.search(r"HTTP listening on (http://\S+)", line):
                    url = match.group(1)
                if url and "agent runner started" in line:
                    break
        assert url, "".join(log)
        drain = asyncio.create_task(proc.stderr.read())  # keep the pipe from filling up
        yield url
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            assert await proc.wait() == 0, (await drain).decode()[-2000:]
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def say(session: aiohttp.ClientSession, url: str, text: str, conversation: str = "me") -> str:
    body = {"text": text, "conversation_id": conversation}
    async with session.post(f"{url}/v1/messages", json=body) as resp:
        assert resp.status == 200, await resp.text()
        [reply] = (await resp.json())["replies"]
        return str(reply["text"])


async def test_the_main_job_on_redis_answers_and_journals_in_redis(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    bot = ROOT / "examples" / "run.py"
    async with replica(bot, tmp_path, redis_url, redis_prefix) as url:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            answer = await say(session, url, "hello")
    assert answer == "You said 'hello' (message 1 in this conversation)"
    client = redis.Redis.from_url(redis_url)
    try:
        journaled = await client.hkeys(f"{redis_prefix}:store:journal")
    finally:
        await client.aclose()
    keys = [key.decode() if isinstance(key, bytes) else key for key in journaled]
    assert [key for key in keys if key.startswith("http:")] != []
    assert not (tmp_path / "data").exists()  # no SQLite file: the store is Redis


async def test_two_replicas_of_the_main_job_share_conversations(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    bot = ROOT / "examples" / "run.py"
    async with (
        replica(bot, tmp_path, redis_url, redis_prefix) as first,
        replica(bot, tmp_path, redis_url, redis_prefix) as second,
    ):
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            one = await say(session, first, "hello")
            two = await say(session, second, "again")
            three = await say(session, first, "and again")
    assert one == "You said 'hello' (message 1 in this conversation)"
    assert two == "You said 'again' (message 2 in this conversation); before that you said 'hello'"
    assert three.startswith("You said 'and again' (message 3 in this conversation)")


async def test_an_init_bot_on_redis_answers(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    project = tmp_path / "mybot"
    init = await asyncio.create_subprocess_exec(str(AGENT_RUNNER), "init", str(project))
    assert await init.wait() == 0
    assert "REDIS_URL=" in (project / ".env.example").read_text()
    async with replica(project / "run.py", tmp_path, redis_url, redis_prefix) as url:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            assert await say(session, url, "hi") == (
                "You said 'hi' (message 1 in this conversation)"
            )
            assert await say(session, url, "hi") == (
                "You said 'hi' (message 2 in this conversation)"
            )


async def test_an_ingest_only_replica_s_messages_are_answered_by_the_others(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    """AGENT_RUNNER_HOST_CONVERSATIONS=false: the replica takes the requests and sends the
    replies, and the two others run every turn; it never runs the agent."""
    bot = ROOT / "tests" / "limits" / "replica_bot.py"
    async with (
        replica(bot, tmp_path, redis_url, redis_prefix, REPLICA="h1") as h1,
        replica(bot, tmp_path, redis_url, redis_prefix, REPLICA="h2"),
        replica(
            bot,
            tmp_path,
            redis_url,
            redis_prefix,
            REPLICA="ingest",
            AGENT_RUNNER_HOST_CONVERSATIONS="false",
        ) as ingest,
    ):
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            texts = [f"m{n}" for n in range(16)]
            answers = await asyncio.gather(
                *(say(session, ingest, text, conversation=f"c{text}") for text in texts)
            )
            answers.append(await say(session, h1, "direct", conversation="cdirect"))
    ran = {answer.split(":")[0] for answer in answers}
    assert [answer.split(": ", 1)[1] for answer in answers] == [*texts, "direct"]
    assert ran <= {"h1", "h2"} and len(ran) == 2, answers  # both hosts ran turns, never it


def test_ingest_only_needs_a_distributed_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent_runner import AgentRuntime
    from agent_runner.errors import ConfigurationError

    async def echo(message: object, context: object) -> str:
        return "ok"

    with pytest.raises(ConfigurationError, match="needs a distributed core runtime"):
        AgentRuntime([], [], echo, host_conversations=False)
    monkeypatch.setenv("AGENT_RUNNER_HOST_CONVERSATIONS", "false")
    with pytest.raises(ConfigurationError, match="AGENT_RUNNER_HOST_CONVERSATIONS"):
        AgentRuntime([], [], echo)
    assert RunnerSettings().describe()["AGENT_RUNNER_HOST_CONVERSATIONS"] == "false"
    assert RunnerSettings(host_conversations=True).host_conversations


def test_without_redis_url_the_store_is_the_bot_s_sqlite_file(tmp_path: Path) -> None:
    settings = RunnerSettings(redis_url=None, data_dir=tmp_path, name="bot")
    store = store_from_env(settings)
    assert type(store).__name__ == "SQLiteStore" and repr(store).endswith(
        "bot.sqlite3', synchronous='FULL')"
    )
    assert runtime_from_env(settings) is None


def test_with_redis_url_both_are_on_redis_under_the_bot_s_name() -> None:
    settings = RunnerSettings(redis_url="redis://127.0.0.1:6379/0", name="support")
    assert type(store_from_env(settings)).__name__ == "RedisStore"
    runtime = runtime_from_env(settings)
    assert type(runtime).__name__ == "DistributedAgentRuntime"
    json.dumps(settings.describe())  # the URL is masked there, never the store's business
