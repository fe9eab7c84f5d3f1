"""Discord buttons: a reply's buttons as message components, a press as an input message.

The buttons of a :class:`~agent_runner.message.Reply` go under its last part as button
components (``custom_id`` = the button's value, five to a row). A press arrives on the
gateway as an interaction; it becomes a message (text = the value, the presser as author,
the channel's conversation, ``metadata["button"]`` with the details) and, once the runner
journaled it, is acknowledged to Discord with a deferred update (callback type 6), so the
client stops its spinner. A press the runner could not take is not acknowledged: Discord
tells the user it failed, and they can press again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from agent_runner.connector import Sink
from agent_runner.errors import InvalidMessageError
from agent_runner.message import Button
from connectors.discord.client import ConnectorClient
from connectors.discord.errors import REST_ERRORS
from connectors.discord.sdk import discord

_log = logging.getLogger("connectors.discord")
DEFERRED_UPDATE = 6
"""The interaction callback type that acknowledges a component press without a message."""


def buttons_view(buttons: Sequence[Button]) -> discord.ui.View | None:
    """The buttons as a view of button components (None without buttons)."""
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for button in buttons:
        view.add_item(
            discord.ui.Button(
                label=button.label, custom_id=button.value, style=discord.ButtonStyle.secondary
            )
        )
    return view


def _label(message: discord.Message | None, custom_id: str) -> str | None:
    for row in getattr(message, "components", None) or ():
        for item in getattr(row, "children", ()):
            if getattr(item, "custom_id", None) == custom_id:
                return getattr(item, "label", None)
    return None


def press_fields(interaction: discord.Interaction, *, source: str) -> dict[str, Any] | None:
    """The runner message for a press of one of the bot's buttons, or None."""
    data: Any = interaction.data or {}
    custom_id = data.get("custom_id")
    if interaction.type != discord.InteractionType.component or data.get("component_type") != 2:
        return None
    message, channel_id = interaction.message, interaction.channel_id
    if not custom_id or message is None or channel_id is None:
        return None
    user = interaction.user
    return {
        "id": f"press:{interaction.id}",
        "conversation_id": str(channel_id),
        "source": source,
        "author": {"id": str(user.id), "name": user.display_name[:256], "is_bot": user.bot},
        "text": str(custom_id),
        "reply_to": str(message.id),
        "metadata": {
            "guild_id": str(interaction.guild_id) if interaction.guild_id else None,
            "channel_id": str(channel_id),
            "is_dm": interaction.guild_id is None,
            "button": {
                "value": str(custom_id),
                "label": _label(message, str(custom_id)),
                "message_id": str(message.id),
                "interaction_id": str(interaction.id),
            },
        },
    }


async def take_press(
    client: ConnectorClient, interaction: discord.Interaction, sink: Sink, *, source: str
) -> None:
    """Hand a press to the runner, then acknowledge it to Discord."""
    fields = press_fields(interaction, source=source)
    if fields is None:
        return
    try:
        await sink(fields)
    except InvalidMessageError as exc:
        _log.debug("discord: button press %s refused: %s", interaction.id, exc.reason)
    route = discord.http.Route(
        "POST",
        "/interactions/{interaction_id}/{interaction_token}/callback",
        interaction_id=interaction.id,
        interaction_token=interaction.token,
    )
    try:
        await client.http.request(route, json={"type": DEFERRED_UPDATE})
    except REST_ERRORS as exc:  # taken; only the user's spinner stays longer
        _log.info("discord: could not acknowledge button press %s: %r", interaction.id, exc)


__all__ = ["DEFERRED_UPDATE", "buttons_view", "press_fields", "take_press"]
