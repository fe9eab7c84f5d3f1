"""One store per bot (issue 11): the default SQLite file is named after the bot, and a runner
leaves the journal entries of connectors it does not have to their own bot."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agent_runner import AgentContext, Message, SQLiteStore
from agent_runner.cli import import_bot
from agent_runner.settings import BOT_MODULE, RunnerSettings
from connectors.inmemory import InMemoryConnector
from tests.runner.support import make, running

BOT = """
from agent_runner import AgentRuntime
from connectors.inmemory import InMemoryConnector

chat = InMemoryConnector({name!r})

async def echo(message, context):
    return message.text

runtime = AgentRuntime([chat], [chat], echo)
"""


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AGENT_RUNNER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("AGENT_RUNNER_NAME", raising=False)
    # setitem first so that teardown removes the bot module import_bot leaves behind (a bare
    # delitem of an absent key records nothing, and the next test would see this bot's name)
    monkeypatch.setitem(sys.modules, BOT_MODULE, None)
    monkeypatch.delitem(sys.modules, BOT_MODULE)
    return tmp_path / "data"


def bot_store(folder: Path, file: str, connector: str) -> Path:
    (folder / file).write_text(BOT.format(name=connector))
    module = import_bot(folder / file)
    store = module.runtime.store
    assert isinstance(store, SQLiteStore)
    return Path(store.path)


def test_two_bots_in_one_folder_get_their_own_store(data_dir: Path, tmp_path: Path) -> None:
    first = bot_store(tmp_path, "support.py", "support")
    second = bot_store(tmp_path, "custom_connector.py", "stdin")
    assert first == data_dir / "support.sqlite3"
    assert second == data_dir / "custom_connector.sqlite3"
    again = bot_store(tmp_path, "support.py", "support")  # a second process of the same bot
    assert again == first


def test_an_explicit_name_wins(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENT_RUNNER_NAME", "helpdesk")
    assert RunnerSettings().store_path == data_dir / "helpdesk.sqlite3"
    assert bot_store(tmp_path, "support.py", "support") == data_dir / "helpdesk.sqlite3"
    chat = InMemoryConnector()
    store = make([chat], [chat], _echo, name="frontdesk").store
    assert isinstance(store, SQLiteStore) and Path(store.path) == data_dir / "frontdesk.sqlite3"
    monkeypatch.setenv("AGENT_RUNNER_NAME", "no/slashes")
    with pytest.raises(ValueError):
        RunnerSettings()


def test_an_old_shared_store_is_pointed_out(
    data_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / "agent-runner.sqlite3").write_bytes(b"")
    bot_store(tmp_path, "legacy_bot.py", "legacy")
    assert "AGENT_RUNNER_NAME=agent-runner" in caplog.text


async def test_a_runner_leaves_other_connectors_entries_to_their_own_bot(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shared.sqlite3"  # both bots pointed at one file
    store = SQLiteStore(path)
    await store.open()
    for source in ("http", "memory"):
        m = Message.parse(
            {
                "id": "1",
                "conversation_id": "c",
                "source": source,
                "author": {"id": "u"},
                "text": f"for {source}",
            }
        )
        await store.journal_accept(m.key, m.conversation_key, m.model_dump_json())
    await store.close()

    seen: list[str] = []

    async def agent(message: Message, context: AgentContext) -> str:
        seen.append(message.key)
        return message.text

    chat = InMemoryConnector()  # named "memory": it has no "http"
    async with running(make([chat], [chat], agent, store=SQLiteStore(path))) as runtime:
        await chat.wait_for_replies(1)
        pending = [e.key for e in await runtime.store.journal_pending()]
    assert seen == ["memory:1"] and pending == ["http:1"]  # waits for the http bot

    http = InMemoryConnector("http")
    async with running(make([http], [http], agent, store=SQLiteStore(path))):
        [(request, reply)] = await http.wait_for_replies(1)
    assert seen == ["memory:1", "http:1"] and reply.text == "for http"


async def _echo(message: Message, context: AgentContext) -> str:
    return message.text
