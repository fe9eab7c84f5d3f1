"""examples/custom_connector.py works as its docstring says."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from types import ModuleType

from agent_runner import InMemoryStore, Message, Reply, ShortTermMemory
from tests.runner.support import make, running

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_connector.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("custom_connector_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_folder_connector_answers_each_file_once(tmp_path: Path) -> None:
    example = load_example()
    answered = asyncio.Queue[str]()

    class Folder(example.FolderConnector):  # type: ignore[name-defined,misc]
        async def send(self, request: Message, response: Reply) -> None:
            await super().send(request, response)
            answered.put_nowait(request.id)

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "hello.txt").write_text("hello there bot")
    (inbox / "empty.txt").write_text("   ")
    folder = Folder(inbox, poll=0.01)
    store = InMemoryStore()
    runtime = make(
        [folder], [folder], example.answer, store=store, short_term_memory=ShortTermMemory()
    )
    async with running(runtime):
        assert await answered.get() == "hello.txt"
        (inbox / "second.txt").write_text("and again")
        assert await answered.get() == "second.txt"
    assert (inbox / "hello.reply.txt").read_text() == (
        "You wrote 3 words. (0 earlier messages here.)\n"
    )
    assert (inbox / "second.reply.txt").read_text() == (
        "You wrote 2 words. (2 earlier messages here.)\n"
    )
    assert "text is empty" in (inbox / "empty.refused").read_text()
    assert answered.empty()
