"""The fake Slack's Socket Mode: envelopes over a websocket, resent until acknowledged."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from agent_runner.testing.slack.server import FakeSlack


@dataclass(slots=True)
class Envelope:
    """One delivery: ``events_api`` or ``interactive``, sent until acked or out of attempts."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    attempts: int = 0
    acked: bool = False
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def frame(self) -> str:
        return json.dumps(
            {
                "envelope_id": self.envelope_id,
                "type": self.type,
                "payload": self.payload,
                "accepts_response_payload": self.type == "interactive",
                "retry_attempt": max(0, self.attempts - 1),
                "retry_reason": "timeout" if self.attempts > 1 else "",
            }
        )


class SocketMode:
    """Connections and envelopes of a :class:`FakeSlack`."""

    def __init__(self, fake: FakeSlack, *, ack_timeout: float, attempts: int) -> None:
        self._fake = fake
        self._ack_timeout = ack_timeout
        self._attempts = attempts
        self._ids = itertools.count(1)
        self.sockets: list[web.WebSocketResponse] = []
        self.envelopes: dict[str, Envelope] = {}
        self.connections = 0
        self.refusing = False
        """While set, new connections are refused (503 at the handshake): Slack is away."""

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        if self.refusing:
            raise web.HTTPServiceUnavailable(text="Socket Mode is unavailable")
        ws = web.WebSocketResponse(heartbeat=None, autoping=True)
        await ws.prepare(request)
        self.connections += 1
        self.sockets.append(ws)
        await ws.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": len(self.sockets),
                    "debug_info": {"host": "fake-slack", "approximate_connection_time": 3600},
                    "connection_info": {"app_id": self._fake.app_id},
                }
            )
        )
        for envelope in list(self.envelopes.values()):  # what waited for a connection
            if not envelope.acked and envelope.attempts < self._attempts:
                await self._send(envelope)
        self._fake.notify()
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                with contextlib.suppress(json.JSONDecodeError, TypeError):
                    ack = self.envelopes.get(str(json.loads(message.data).get("envelope_id")))
                    if ack is not None:
                        ack.acked = True
                        self._fake.acks.append(ack.envelope_id)
                        self._fake.notify()
        finally:
            self.sockets.remove(ws)
            self._fake.notify()
        return ws

    async def deliver(self, kind: str, payload: dict[str, Any]) -> Envelope:
        envelope = Envelope(f"env-{next(self._ids):06d}", kind, payload)
        self.envelopes[envelope.envelope_id] = envelope
        if self.sockets:
            await self._send(envelope)
        return envelope

    async def _send(self, envelope: Envelope) -> None:
        envelope.attempts += 1
        ws = self.sockets[-1]
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_str(envelope.frame())
        if envelope.task is None or envelope.task.done():
            envelope.task = asyncio.ensure_future(self._resend_later(envelope))

    async def _resend_later(self, envelope: Envelope) -> None:
        while not envelope.acked and envelope.attempts < self._attempts:
            await asyncio.sleep(self._ack_timeout)
            if envelope.acked or not self.sockets:
                return  # delivered, or sent again when a connection comes
            envelope.attempts += 1
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.sockets[-1].send_str(envelope.frame())

    async def resend(self, envelope_id: str) -> None:
        """Send an envelope again (as Slack does when an ack was lost)."""
        envelope = self.envelopes[envelope_id]
        envelope.attempts += 1
        await self.sockets[-1].send_str(envelope.frame())

    async def drop(self) -> None:
        """Close every connection (the clients reconnect, unless :attr:`refusing`)."""
        for ws in list(self.sockets):
            await ws.close()

    async def close(self) -> None:
        for envelope in self.envelopes.values():
            if envelope.task is not None:
                envelope.task.cancel()
        for ws in list(self.sockets):
            await ws.close()


__all__ = ["Envelope", "SocketMode"]
