"""The local HTTP server a platform posts to (Telegram's webhook, Slack's Events API)."""

from __future__ import annotations

from aiohttp import web


async def serve(
    app: web.Application, *, host: str, port: int, idle_timeout: float
) -> tuple[web.AppRunner, int]:
    """Start ``app`` on ``host:port`` (0: a free port); the runner and the port it got.

    Idle keep-alive connections close after ``idle_timeout``; shutdown waits 2 s at most.
    """
    runner = web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        keepalive_timeout=idle_timeout,
        shutdown_timeout=2.0,
    )
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner, int(runner.addresses[0][1])


__all__ = ["serve"]
