"""Tutorial step 1: a bot over HTTP that remembers each conversation."""

from agent_runner import AgentContext, AgentRuntime, Message
from agent_runner.memory import ShortTermMemory
from connectors.http import HTTPConnector


async def agent(message: Message, context: AgentContext) -> str:
    turns = context.memory.messages  # this conversation's earlier turns
    earlier = [item.text for item in turns if item.role == "user"]
    if earlier:
        return f"You said {message.text!r}. Before that: {earlier[-1]!r}."
    return f"You said {message.text!r}. Nice to meet you!"


http = HTTPConnector.from_env()  # HTTP_HOST / HTTP_PORT, default 127.0.0.1:8080

runtime = AgentRuntime(
    inputs=[http],  # where messages come from
    outputs=[http],  # where replies go (back where their message came from)
    agent=agent,
    short_term_memory=ShortTermMemory(max_messages=20),
)
