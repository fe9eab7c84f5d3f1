"""A connector you write yourself: a folder as a chat, in a few lines.

Drop ``hello.txt`` into the inbox folder; the bot answers in ``hello.reply.txt`` beside it.
The file name is the message id, so a file is answered once, also across restarts (the
runner's journal and reply claims do that, not this code).

Run: ``python examples/custom_connector.py ./inbox`` (Ctrl-C stops it gracefully).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from agent_runner import (
    AgentContext,
    AgentRuntime,
    BaseConnector,
    InvalidMessageError,
    Message,
    Reply,
    ShortTermMemory,
    Sink,
)


class FolderConnector(BaseConnector):
    """Input: every new ``*.txt`` file in ``folder``. Output: ``<name>.reply.txt`` beside it."""

    name = "folder"

    def __init__(self, folder: Path, *, poll: float = 1.0) -> None:
        super().__init__()
        self.folder, self.poll = folder, poll

    async def run(self, sink: Sink) -> None:  # BaseConnector.start() runs it until stop()
        await asyncio.to_thread(self.folder.mkdir, parents=True, exist_ok=True)
        seen: set[str] = set()
        while True:
            files = await asyncio.to_thread(sorted, self.folder.glob("*.txt"))
            for path in files:
                if path.name.endswith(".reply.txt") or path.name in seen:
                    continue
                seen.add(path.name)
                text = await asyncio.to_thread(path.read_text, encoding="utf-8")
                try:  # after a restart the same id is a duplicate: the runner drops it
                    await sink(
                        {
                            "id": path.name,
                            "conversation_id": self.folder.name,
                            "source": self.name,
                            "author": {"id": "you"},
                            "text": text,
                        }
                    )
                except InvalidMessageError as exc:  # empty or too big: say why, go on
                    await asyncio.to_thread(path.with_suffix(".refused").write_text, exc.reason)
            await asyncio.sleep(self.poll)

    async def send(self, request: Message, response: Reply) -> None:
        reply = self.folder / f"{Path(request.id).stem}.reply.txt"
        await asyncio.to_thread(reply.write_text, response.text + "\n", encoding="utf-8")


async def answer(message: Message, context: AgentContext) -> str:
    earlier = len(context.memory.messages)
    return f"You wrote {len(message.text.split())} words. ({earlier} earlier messages here.)"


def main() -> None:
    folder = FolderConnector(Path(sys.argv[1] if len(sys.argv) > 1 else "inbox"))
    runtime = AgentRuntime([folder], [folder], answer, short_term_memory=ShortTermMemory())
    asyncio.run(runtime.run())


if __name__ == "__main__":
    main()
