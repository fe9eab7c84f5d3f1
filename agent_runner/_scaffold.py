"""Templates for ``agent-runner init DIR``: a new bot project that runs as it is.

Kept as string constants (no package data to install). ``{name}`` is the project's name.
"""

from __future__ import annotations

from pathlib import Path

RUN_PY = '''\
"""{name}: an agent-runner bot.

Start it:   agent-runner run run.py
Talk to it: curl -s localhost:8080/v1/messages -H 'content-type: application/json' \\\\
                 -d '{{"text": "hello", "conversation_id": "me"}}'

`agent-runner run` loads .env, imports this file and runs its `runtime` (or its async
`main()`, if it defines one). Settings come from the environment: see .env.example.
"""

from __future__ import annotations

from agent_runner import Agent, AgentContext, AgentFunction, AgentRuntime, Message
from agent_runner.memory import ShortTermMemory
from agent_runner.replicas import runtime_from_env, store_from_env
from connectors.http import HTTPConnector

SYSTEM_PROMPT = "You are a friendly, concise assistant."


async def offline_agent(message: Message, context: AgentContext) -> str:
    """Works with no model and no keys: echoes, and counts the conversation's messages."""
    key = f"count:{{message.conversation_key}}"
    count = int(await context.store.state_get(key) or 0) + 1
    await context.store.state_set(key, str(count))
    return f"You said {{message.text!r}} (message {{count}} in this conversation)"


def build_agent() -> Agent | AgentFunction:
    """An LLM agent when LLM_BASE_URL or LLM_API_KEY is set, else the offline agent."""
    try:
        from agent_runner.llm import agent_from_env
    except ImportError:  # installed without the llm extra
        return offline_agent
    return agent_from_env(system_prompt=SYSTEM_PROMPT) or offline_agent


http = HTTPConnector.from_env()  # HTTP_HOST, HTTP_PORT, HTTP_AUTH_TOKEN, ...

runtime = AgentRuntime(
    inputs=[http],
    outputs=[http],
    agent=build_agent(),
    short_term_memory=ShortTermMemory(),
    # SQLite in $AGENT_RUNNER_DATA_DIR (./data); with REDIS_URL set, Redis, and the
    # conversations shared by every process of this bot on it (run it N times to scale).
    store=store_from_env(),
    runtime=runtime_from_env(),
)
'''

ENV_EXAMPLE = """\
# {name} settings. Copy to .env and fill in what you use; all are optional.
# Secrets are never logged.

# Where the SQLite store lives (journal, memory, costs).
AGENT_RUNNER_DATA_DIR=./data
# DEBUG, INFO, WARNING or ERROR.
AGENT_RUNNER_LOG_LEVEL=INFO
# Scale out: every process of this bot on this Redis shares the store, the conversations
# and the limits (redis://host:6379/0). Unset: one process, SQLite.
REDIS_URL=
# With REDIS_URL: false makes this process ingest-only (it takes input and sends replies; the
# other processes run the conversations).
AGENT_RUNNER_HOST_CONVERSATIONS=true

# HTTP API. 127.0.0.1 keeps it local; 0.0.0.0 exposes it (set a token then).
HTTP_HOST=127.0.0.1
# 0 picks a free port.
HTTP_PORT=8080
# Require "Authorization: Bearer <token>".
HTTP_AUTH_TOKEN=
# Require HMAC-SHA256 signed requests (X-Timestamp, X-Signature).
HTTP_HMAC_SECRET=
# Signs callbacks (default: HTTP_HMAC_SECRET).
HTTP_CALLBACK_SECRET=
# Larger request bodies get 413.
HTTP_MAX_BODY_BYTES=1048576
# Per client address; 0 turns it off.
HTTP_RATE_LIMIT_PER_MINUTE=600
# Behind a reverse proxy: rate-limit by the X-Forwarded-For address.
HTTP_TRUST_FORWARDED=false
# Seconds a request waits for its reply (then 504).
HTTP_REPLY_TIMEOUT=30

# A model endpoint (OpenAI-compatible). Unset: the offline agent answers.
LLM_BASE_URL=
LLM_MODEL=
LLM_API_KEY=
# Tools from MCP servers for the model (JSON, Claude Desktop's "mcpServers" shape), e.g.
# {{"git": {{"command": "uvx", "args": ["mcp-server-git"]}}}}
MCP_SERVERS=
"""

README_MD = """\
# {name}

An [agent-runner](https://pypi.org/project/agent-runner/) bot.

```sh
cp .env.example .env        # optional: settings
agent-runner check run.py   # what would start
agent-runner run run.py     # start it (Ctrl-C stops it cleanly)
```

Then, in another terminal:

```sh
curl -s localhost:8080/v1/messages -H 'content-type: application/json' \\
     -d '{{"text": "hello", "conversation_id": "me"}}'
```

Any OpenAI client works too: point it at `http://localhost:8080/v1`.

With no model configured the bot echoes (offline, no keys). Set `LLM_BASE_URL` and
`LLM_MODEL` (a local server) or `LLM_API_KEY` in `.env` to answer with a model. Edit
`run.py` to add inputs (cron, Discord, X), outputs and your own agent.

To scale, set `REDIS_URL` and run `run.py` several times (behind a load balancer): the
processes share the store, the conversations and the limits.
"""

TEMPLATES = {"run.py": RUN_PY, ".env.example": ENV_EXAMPLE, "README.md": README_MD}
"""File name -> template."""


def render(name: str) -> dict[str, str]:
    """The project's files, by name, with ``name`` filled in."""
    return {filename: text.format(name=name) for filename, text in TEMPLATES.items()}


def write_project(directory: Path, *, force: bool = False) -> list[Path]:
    """Write the scaffold into ``directory`` (created if needed); return the files written.

    Raises:
        FileExistsError: a file exists and ``force`` is false (nothing is written then).
    """
    files = render(directory.resolve().name or "bot")
    targets = [directory / filename for filename in files]
    existing = [p for p in targets if p.exists()]
    if existing and not force:
        raise FileExistsError(", ".join(str(p) for p in existing))
    directory.mkdir(parents=True, exist_ok=True)
    for path, text in zip(targets, files.values(), strict=True):
        path.write_text(text, encoding="utf-8")
    return targets


__all__ = ["ENV_EXAMPLE", "README_MD", "RUN_PY", "TEMPLATES", "render", "write_project"]
