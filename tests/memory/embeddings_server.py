"""A local OpenAI-compatible ``/v1/embeddings`` server for tests (aiohttp on 127.0.0.1).

It checks the bearer key, answers with the real response shape (``data`` items with
``index`` and ``embedding``, out of order to prove the client sorts them, ``usage``) from the
offline HashingEmbedder, and fails on request: ``failures`` is a queue of ``(status,
headers)`` or ``"hang"`` consumed one per request before answering normally.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any

from aiohttp import web

from agent_runner.memory import HashingEmbedder


class EmbeddingsServer:
    def __init__(self, *, api_key: str = "test-key", dimensions: int = 64) -> None:
        self.api_key = api_key
        self.embedder = HashingEmbedder(dimensions=dimensions)
        self.failures: deque[tuple[int, dict[str, str]] | str] = deque()
        self.requests: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def __aenter__(self) -> EmbeddingsServer:
        app = web.Application()
        app.router.add_post("/v1/embeddings", self._embeddings)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing.set()  # hung handlers return now
        if self._runner is not None:
            await self._runner.cleanup()

    async def _embeddings(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response({"error": {"message": "bad key"}}, status=401)
        body = await request.json()
        self.requests.append(body)
        if self.failures:
            failure = self.failures.popleft()
            if failure == "hang":
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), 30)
            else:
                status, headers = failure
                return web.json_response(
                    {"error": {"message": f"scripted {status}", "type": "test"}},
                    status=status,
                    headers=headers,
                )
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors = await self.embedder.embed(texts)
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
        return web.json_response(
            {
                "object": "list",
                "data": list(reversed(data)),
                "model": body["model"],
                "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)},
            }
        )
