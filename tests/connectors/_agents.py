"""Agents shared by the chat connectors' tests."""

from __future__ import annotations

from agent_runner import AgentContext, Button, Message, Reply


class Chooser:
    """Offers two buttons; answers a press with what was chosen. Keeps what it saw."""

    def __init__(self) -> None:
        self.seen: list[Message] = []

    async def __call__(self, message: Message, context: AgentContext) -> Reply | str:
        self.seen.append(message)
        if "button" in message.metadata:
            return f"you chose {message.text}"
        buttons = (Button(label="Yes", value="deploy:yes"), Button(label="No", value="deploy:no"))
        return Reply(text="Deploy?", buttons=buttons)
