"""Loop guards: which valid messages the runner refuses before they reach the agent.

A bot that answers bots (or itself) can loop forever and burn its budget. The runner drops:

- messages whose author is one of ``ignore_authors`` (the bot's own accounts);
- messages from other bots (``author.is_bot``) unless ``allow_bots``;
- messages deeper than ``max_reply_depth`` bot replies in their thread.

A refused message raises :class:`RefusedMessageError` (an
:class:`~agent_runner.errors.InvalidMessageError`, so inputs handle both the same way) with a
one-line reason; it is not journaled and never reaches the agent.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from agent_runner.errors import InvalidMessageError
from agent_runner.message import Message


class RefusedMessageError(InvalidMessageError):
    """A valid message that a loop guard refused (own/ignored author, a bot, too deep).

    ``reason`` says which guard and why, e.g. ``"refused: author 'b1' is a bot (allow_bots
    is off)"``.
    """


@dataclass(frozen=True, slots=True)
class LoopGuard:
    """The loop guard settings; :meth:`check` is pure.

    >>> from agent_runner.message import Author
    >>> guard = LoopGuard(ignore_authors=frozenset({"me"}))
    >>> m = Message(id="1", conversation_id="c", source="s", author=Author(id="me"), text="x")
    >>> guard.check(m)
    "refused: author 'me' is ignored (the bot's own account or ignore_authors)"
    """

    ignore_authors: frozenset[str] = field(default_factory=frozenset)
    allow_bots: bool = False
    max_reply_depth: int = 8

    @classmethod
    def of(
        cls, *, ignore_authors: Collection[str], allow_bots: bool, max_reply_depth: int
    ) -> LoopGuard:
        if max_reply_depth < 0:
            raise ValueError(f"max_reply_depth must be >= 0, not {max_reply_depth}")
        return cls(frozenset(ignore_authors), allow_bots, max_reply_depth)

    def check(self, message: Message) -> str | None:
        """The reason to refuse ``message``, or ``None`` to let it through."""
        author = message.author
        if author.id in self.ignore_authors:
            return (
                f"refused: author {author.id!r} is ignored (the bot's own account or "
                "ignore_authors)"
            )
        if author.is_bot and not self.allow_bots:
            return f"refused: author {author.id!r} is a bot (allow_bots is off)"
        if message.depth > self.max_reply_depth:
            return (
                f"refused: reply depth {message.depth} is over max_reply_depth "
                f"{self.max_reply_depth}"
            )
        return None


__all__ = ["LoopGuard", "RefusedMessageError"]
