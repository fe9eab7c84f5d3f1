"""FakeWebhookReceiver: a local webhook / callback receiver that honours ``Idempotency-Key``.

It does what a careful receiver (Stripe's idempotency, a queue with deduplication) does: the
first POST under a key (per path: each path is a receiver of its own) is kept and answered
200; a POST under a key it has seen on that path is answered 200 again and dropped. Every
POST is recorded, so tests count both what the receiver kept (:attr:`kept`, one per key)
and what reached it (:attr:`received`, resends included)::

    async with FakeWebhookReceiver() as receiver:
        hook = WebhookOutput(receiver.url)
        ...
        assert set(receiver.kept_keys().values()) == {1}
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from aiohttp import web

IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True, slots=True)
class WebhookPost:
    """One POST as received."""

    path: str
    key: str | None
    """Its ``Idempotency-Key`` (None when it had none)."""
    body: bytes
    headers: dict[str, str]
    duplicate: bool
    """The key was seen before: the receiver answered 200 and dropped it."""

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class FakeWebhookReceiver:
    """Records every POST to any path and keeps the first of each ``Idempotency-Key``.

    Args:
        host: the interface to listen on.
        port: 0 picks a free port.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self.received: list[WebhookPost] = []
        """Every POST, in arrival order (resends included)."""
        self._seen: set[tuple[str, str]] = set()
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""

    @property
    def kept(self) -> list[WebhookPost]:
        """The POSTs the receiver kept: the first under each key (and every keyless one)."""
        return [d for d in self.received if not d.duplicate]

    @property
    def duplicates(self) -> int:
        """Resends dropped because their key was seen before."""
        return sum(d.duplicate for d in self.received)

    def kept_keys(self) -> Counter[tuple[str, str]]:
        """How many times each (path, key) was kept (1 each; keyless POSTs not counted)."""
        return Counter((d.path, d.key) for d in self.kept if d.key is not None)

    async def __aenter__(self) -> FakeWebhookReceiver:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{path:.*}", self._post)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        self._port = self._runner.addresses[0][1]
        self.url = f"http://{self._host}:{self._port}/hook"

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def wait_kept(self, count: int, *, within: float = 10.0) -> list[WebhookPost]:
        """Wait until ``count`` POSTs were kept; return them."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: len(self.kept) >= count)
        return self.kept

    async def _post(self, request: web.Request) -> web.Response:
        body = await request.read()
        key = request.headers.get(IDEMPOTENCY_HEADER)
        duplicate = key is not None and (request.path, key) in self._seen
        if key is not None:
            self._seen.add((request.path, key))
        async with self._changed:
            post = WebhookPost(request.path, key, body, dict(request.headers), duplicate)
            self.received.append(post)
            self._changed.notify_all()
        return web.json_response({"ok": True, "duplicate": duplicate})


__all__ = ["IDEMPOTENCY_HEADER", "WebhookPost", "FakeWebhookReceiver"]
