"""The fake Discord gateway: sessions, sequence numbers, heartbeats, resume with replay.

Protocol (Discord gateway v10, JSON encoding, uncompressed text frames)::

    server: HELLO {heartbeat_interval}
    client: IDENTIFY {token, intents, shard?} -> READY (s=1), GUILD_CREATE per guild
    client: RESUME {token, session_id, seq} -> missed events (s > seq), RESUMED
            (unknown session: INVALID_SESSION false)
    client: HEARTBEAT {seq}            -> HEARTBEAT_ACK
    server: DISPATCH {t, s, d}         events, numbered per session

A session identified with ``shard: [shard_id, shard_count]`` gets the guilds (in READY, in
GUILD_CREATE and their events) with ``(guild_id >> 22) % shard_count == shard_id``, and DMs
only on shard 0, as Discord routes them.

A session outlives its websocket unless the client closes with 1000/1001 (as Discord
does), so a client that reconnects after a drop can resume and gets what it missed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

_log = logging.getLogger("agent_runner.testing.discord")

OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_RESUME = 6
OP_RECONNECT = 7
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15

CLOSE_DECODE_ERROR = 4002
CLOSE_AUTHENTICATION_FAILED = 4004
CLOSE_INVALID_SHARD = 4010
CLOSE_DISALLOWED_INTENTS = 4014
REPLAY_LIMIT = 5000
"""Events kept per session for resume."""


@dataclass(eq=False)
class GatewaySession:
    """One identified bot session; it survives a dropped connection until resumed."""

    id: str
    intents: int
    seq: int = 0
    ws: web.WebSocketResponse | None = None
    log: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=REPLAY_LIMIT))
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    invalid: bool = False
    shard: tuple[int, int] = (0, 1)

    def owns(self, guild_id: str | int | None) -> bool:
        """Events of this guild (None: a DM) go to this session's shard."""
        shard_id, count = self.shard
        return shard_id == 0 if guild_id is None else (int(guild_id) >> 22) % count == shard_id

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Number the event, keep it for replay and send it if connected."""
        async with self.lock:
            self.seq += 1
            frame = json.dumps({"op": OP_DISPATCH, "t": event, "s": self.seq, "d": data})
            self.log.append((self.seq, frame))
            await self._send(frame)

    async def _send(self, frame: str) -> None:
        ws = self.ws
        if ws is None or ws.closed:
            return
        try:
            await ws.send_str(frame)
        except (ConnectionError, RuntimeError):
            self.ws = None


@dataclass
class GatewayStats:
    identifies: int = 0
    resumes: int = 0
    heartbeats: int = 0
    connections: int = 0
    invalid_sessions: int = 0
    identified_shards: list[int] = field(default_factory=list)
    """The shard id of every IDENTIFY, in order (0 for an unsharded session)."""
    shard_overlaps: int = 0
    """IDENTIFYs of a shard while another session of that shard was still connected."""


class Gateway:
    """Sessions and the websocket handler, owned by :class:`FakeDiscord`."""

    def __init__(
        self,
        *,
        token: str,
        heartbeat_interval: float,
        ready_payload: Callable[[GatewaySession], dict[str, Any]],
        guild_payloads: Callable[[], list[dict[str, Any]]],
        notify: Callable[[], None],
        allowed_intents: int | None,
    ) -> None:
        self._token = token
        self._interval_ms = int(heartbeat_interval * 1000)
        self._ready_payload = ready_payload
        self._guild_payloads = guild_payloads
        self._notify = notify
        self._allowed_intents = allowed_intents
        self.sessions: dict[str, GatewaySession] = {}
        self.stats = GatewayStats()
        self.open_sockets: set[web.WebSocketResponse] = set()
        self.accepting = asyncio.Event()
        self.accepting.set()

    def live_sessions(self) -> list[GatewaySession]:
        return [s for s in self.sessions.values() if not s.invalid]

    def sessions_for(self, guild_id: str | None) -> list[GatewaySession]:
        """The live sessions that get events of guild ``guild_id`` (None: a DM)."""
        return [s for s in self.live_sessions() if s.owns(guild_id)]

    def connected(self, shard_id: int) -> list[GatewaySession]:
        """The sessions of shard ``shard_id`` with an open websocket now."""
        return [
            s
            for s in self.live_sessions()
            if s.shard[0] == shard_id and s.ws is not None and not s.ws.closed
        ]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The websocket endpoint: one connection, identify or resume, then events."""
        await self.accepting.wait()  # held during an outage
        ws = web.WebSocketResponse(autoping=True, heartbeat=None, max_msg_size=0)
        await ws.prepare(request)
        self.open_sockets.add(ws)
        self.stats.connections += 1
        session: GatewaySession | None = None
        try:
            await ws.send_str(
                json.dumps({"op": OP_HELLO, "d": {"heartbeat_interval": self._interval_ms}})
            )
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                try:
                    payload = json.loads(msg.data)
                except ValueError:
                    await ws.close(
                        code=CLOSE_DECODE_ERROR, message=b"Error while decoding payload."
                    )
                    break
                session = await self._on_frame(ws, payload, session)
        except (ConnectionError, RuntimeError):
            pass  # the client went away mid-send
        finally:
            self.open_sockets.discard(ws)
            if session is not None and session.ws is ws:
                session.ws = None
                if ws.close_code in (1000, 1001):  # a clean close ends the session
                    session.invalid = True
            self._notify()
        return ws

    async def _on_frame(
        self, ws: web.WebSocketResponse, payload: dict[str, Any], session: GatewaySession | None
    ) -> GatewaySession | None:
        op = payload.get("op")
        data = payload.get("d")
        if op == OP_HEARTBEAT:
            self.stats.heartbeats += 1
            await ws.send_str(json.dumps({"op": OP_HEARTBEAT_ACK}))
            self._notify()
        elif op == OP_IDENTIFY and isinstance(data, dict):
            return await self._identify(ws, data)
        elif op == OP_RESUME and isinstance(data, dict):
            return await self._resume(ws, data)
        return session

    async def _identify(
        self, ws: web.WebSocketResponse, data: dict[str, Any]
    ) -> GatewaySession | None:
        if data.get("token") != self._token:
            await ws.close(code=CLOSE_AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return None
        intents = int(data.get("intents", 0))
        if self._allowed_intents is not None and intents & ~self._allowed_intents:
            await ws.close(code=CLOSE_DISALLOWED_INTENTS, message=b"Disallowed intent(s).")
            return None
        shard = data.get("shard") or [0, 1]
        if not (isinstance(shard, list) and len(shard) == 2 and 0 <= shard[0] < shard[1]):
            await ws.close(code=CLOSE_INVALID_SHARD, message=b"Invalid shard.")
            return None
        session = GatewaySession(id=secrets.token_hex(16), intents=intents, shard=tuple(shard))
        if self.connected(shard[0]):
            self.stats.shard_overlaps += 1
        session.ws = ws
        self.sessions[session.id] = session
        self.stats.identifies += 1
        self.stats.identified_shards.append(shard[0])
        ready = self._ready_payload(session)
        ready["guilds"] = [g for g in ready["guilds"] if session.owns(g["id"])]
        ready["shard"] = shard
        await session.dispatch("READY", ready)
        for guild in self._guild_payloads():
            if session.owns(guild["id"]):
                await session.dispatch("GUILD_CREATE", guild)
        self._notify()
        return session

    async def _resume(
        self, ws: web.WebSocketResponse, data: dict[str, Any]
    ) -> GatewaySession | None:
        session = self.sessions.get(str(data.get("session_id")))
        if data.get("token") != self._token or session is None or session.invalid:
            self.stats.invalid_sessions += 1
            await ws.send_str(json.dumps({"op": OP_INVALID_SESSION, "d": False}))
            self._notify()
            return None
        since = int(data.get("seq") or 0)
        async with session.lock:
            session.ws = ws
            for seq, frame in list(session.log):
                if seq > since:
                    await session._send(frame)
            session.seq += 1
            await session._send(
                json.dumps({"op": OP_DISPATCH, "t": "RESUMED", "s": session.seq, "d": {}})
            )
        self.stats.resumes += 1
        self._notify()
        return session

    async def drop(self, *, code: int = 4000) -> int:
        """Close every open connection from the server side (sessions stay resumable)."""
        sockets = list(self.open_sockets)
        for ws in sockets:
            for session in self.sessions.values():
                if session.ws is ws:
                    session.ws = None
            await ws.close(code=code, message=b"dropped by the fake server")
        return len(sockets)

    async def invalidate(self, *, resumable: bool = False) -> None:
        """Send INVALID_SESSION to every connected session (and end them unless resumable)."""
        for session in self.live_sessions():
            ws = session.ws
            if not resumable:
                session.invalid = True
            if ws is not None and not ws.closed:
                await ws.send_str(json.dumps({"op": OP_INVALID_SESSION, "d": resumable}))

    async def reconnect(self) -> None:
        """Ask every connected client to reconnect and resume (opcode 7)."""
        for session in self.live_sessions():
            ws = session.ws
            if ws is not None and not ws.closed:
                await ws.send_str(json.dumps({"op": OP_RECONNECT, "d": None}))

    async def close(self) -> None:
        self.accepting.set()
        for ws in list(self.open_sockets):
            await ws.close(code=1001, message=b"server stopping")


__all__ = ["Gateway", "GatewaySession", "GatewayStats"]
