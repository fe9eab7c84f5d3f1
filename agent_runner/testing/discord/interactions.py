"""The fake Discord's interactions: button presses dispatched, their callbacks answered."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from agent_runner.testing.discord.payloads import FakeChannel, FakeMessage, FakeUser, iso

if TYPE_CHECKING:
    from agent_runner.testing.discord.server import FakeDiscord


class Interactions:
    """Presses sent to the bot (:attr:`tokens`) and its answers (:attr:`responses`)."""

    def __init__(self, fake: FakeDiscord) -> None:
        self._fake = fake
        self.tokens: dict[str, str] = {}
        """Interaction id -> token, for every press."""
        self.responses: dict[str, int] = {}
        """Interaction id -> the callback ``type`` the bot answered (6: deferred update)."""

    async def press(self, message: FakeMessage, custom_id: str, user: FakeUser) -> str:
        fake = self._fake
        if custom_id not in [cid for _, cid in message.buttons]:
            raise ValueError(f"message {message.id} has no button {custom_id!r}")
        interaction_id = fake._ids()
        token = f"interaction-token-{interaction_id}"
        self.tokens[interaction_id] = token
        data = component_interaction(
            interaction_id,
            token,
            application_id=fake.application_id,
            message=message,
            channel=fake.channels[message.channel_id],
            user=user,
            custom_id=custom_id,
            joined_at=fake._started_at,
        )
        for session in fake._gateway.sessions_for(data.get("guild_id")):
            await session.dispatch("INTERACTION_CREATE", data)
        fake._notify()
        return interaction_id

    async def callback(self, request: web.Request, parts: list[str]) -> web.Response:
        """``POST /interactions/{id}/{token}/callback``: one answer per interaction."""
        if len(parts) != 4 or parts[3] != "callback" or self.tokens.get(parts[1]) != parts[2]:
            return _error(404, "Unknown interaction", 10062)
        if parts[1] in self.responses:
            return _error(400, "Interaction has already been acknowledged.", 40060)
        body = await request.json()
        self.responses[parts[1]] = int(body.get("type", 0))
        self._fake._notify()
        return web.Response(status=204)


def _error(status: int, message: str, code: int) -> web.Response:
    body = json.dumps({"message": message, "code": code})
    return web.Response(status=status, text=body, content_type="application/json")


def component_interaction(
    interaction_id: str,
    token: str,
    *,
    application_id: str,
    message: FakeMessage,
    channel: FakeChannel,
    user: FakeUser,
    custom_id: str,
    joined_at: datetime,
) -> dict[str, Any]:
    """The INTERACTION_CREATE payload of a press of button ``custom_id`` on ``message``."""
    data: dict[str, Any] = {
        "id": interaction_id,
        "application_id": application_id,
        "type": 3,  # MESSAGE_COMPONENT
        "data": {"custom_id": custom_id, "component_type": 2},
        "channel_id": channel.id,
        "channel": channel.payload(),
        "token": token,
        "version": 1,
        "message": message.payload(),
        "app_permissions": "0",
        "attachment_size_limit": 10_485_760,
        "locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {},
        "context": 0 if channel.guild_id else 1,
    }
    if channel.guild_id is None:
        data["user"] = user.payload()
        return data
    data["guild_id"] = channel.guild_id
    data["guild_locale"] = "en-US"
    data["member"] = {
        "user": user.payload(),
        "roles": [],
        "joined_at": iso(joined_at),
        "deaf": False,
        "mute": False,
        "flags": 0,
        "permissions": "0",
    }
    return data


__all__ = ["Interactions", "component_interaction"]
