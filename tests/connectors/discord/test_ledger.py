"""Discord is exactly-once under the reply ledger: each part carries a nonce with
``enforce_nonce``, and the fake Discord answers a repeated nonce with the message it made."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from agent_runner import DeliveryKey, Reply
from agent_runner.testing.discord import FakeDiscord
from tests.connectors.discord._fixtures import RecordingSink, running


class Killed(Exception):
    """Stands for the SIGKILL between a part reaching Discord and the ledger recording it."""


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(heartbeat_interval=0.05) as server:
        yield server


def creates(fake: FakeDiscord) -> int:
    return sum(1 for method, path in fake.requests if method == "POST" and "messages" in path)


async def test_a_resumed_split_reply_posts_each_part_once(fake: FakeDiscord) -> None:
    text = "\n\n".join(f"paragraph {i} " + "x" * 1500 for i in range(3))
    recorded: dict[int, str] = {}

    async def record(part: int, ref: str) -> None:
        if part == 1:
            raise Killed  # part 1 is on Discord; the ledger never hears of it
        recorded[part] = ref

    sink = RecordingSink()
    async with running(fake, sink) as discord:
        await fake.post_user_message(fake.channel_id, "long please", mention_bot=True)
        [request] = await sink.wait_for(1)
        first = DeliveryKey(f"{request.key}#0", "discord", record=record)
        with pytest.raises(Killed):
            await discord.send(request, Reply(text=text), key=first)
        assert len(fake.messages_in(fake.channel_id)) == 2
    async with running(fake, RecordingSink()) as discord:  # the restart: a new process
        # same key; the ledger knows part 0 only
        again = DeliveryKey(f"{request.key}#0", "discord", 0, 2, dict(recorded), resumed=True)
        await discord.send(request, Reply(text=text), key=again)
    parts = fake.messages_in(fake.channel_id)
    assert [p.content.split()[:2] for p in parts] == [
        ["paragraph", "0"],
        ["paragraph", "1"],
        ["paragraph", "2"],
    ]
    assert creates(fake) == 4  # part 1 twice: Discord answered the second with the first
    assert sorted(again.parts) == [0, 1, 2] and again.parts[1] == str(parts[1].id)
