"""A local Solana JSON-RPC server answering ``getTransaction`` like a real node (jsonParsed)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
SYSTEM_PROGRAM = "11111111111111111111111111111111"
RECIPIENT = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"
NOW = 1_763_700_000.0

_random = random.Random(7)


def base58(length: int) -> str:
    return "".join(_random.choice(BASE58) for _ in range(length))


def signature() -> str:
    """A fresh transaction signature (88 base58 characters, like a real one)."""
    return base58(88)


PAYER = base58(44)


def transfer(
    sig: str,
    *,
    lamports: int = 5_000_000,
    to: str = RECIPIENT,
    block_time: float | None = NOW - 30,
    err: Any = None,
    parsed_keys: bool = True,
    lookup: bool = False,
) -> dict[str, Any]:
    """A getTransaction result for a SOL transfer from PAYER to ``to`` (fee 5000 lamports).

    ``lookup``: a v0 transaction whose recipient comes from an address lookup table, in the
    ``json`` shape (string keys, recipient in ``meta.loadedAddresses``).
    """
    fee = 5000
    moved = 0 if err is not None else lamports
    pre = [2_000_000_000, 1_000_000, 1]
    post = [pre[0] - fee - moved, pre[1] + moved, 1]
    static = [PAYER, to, SYSTEM_PROGRAM]
    loaded: dict[str, list[str]] = {"readonly": [], "writable": []}
    if lookup:
        static = [PAYER, SYSTEM_PROGRAM]
        loaded = {"readonly": [], "writable": [to]}
        pre = [pre[0], pre[2], pre[1]]
        post = [post[0], post[2], post[1]]
    account_keys: list[Any] = (
        [
            {"pubkey": key, "signer": i == 0, "source": "transaction", "writable": i != 2}
            for i, key in enumerate(static)
        ]
        if parsed_keys
        else list(static)
    )
    return {
        "blockTime": None if block_time is None else int(block_time),
        "meta": {
            "computeUnitsConsumed": 150,
            "err": err,
            "fee": fee,
            "innerInstructions": [],
            "loadedAddresses": loaded,
            "logMessages": [
                f"Program {SYSTEM_PROGRAM} invoke [1]",
                f"Program {SYSTEM_PROGRAM} " + ("failed" if err else "success"),
            ],
            "postBalances": post,
            "postTokenBalances": [],
            "preBalances": pre,
            "preTokenBalances": [],
            "rewards": [],
            "status": {"Ok": None} if err is None else {"Err": err},
        },
        "slot": 331_234_567,
        "transaction": {
            "message": {
                "accountKeys": account_keys,
                "addressTableLookups": [],
                "instructions": [
                    {
                        "parsed": {
                            "info": {"destination": to, "lamports": lamports, "source": PAYER},
                            "type": "transfer",
                        },
                        "program": "system",
                        "programId": SYSTEM_PROGRAM,
                        "stackHeight": None,
                    }
                ],
                "recentBlockhash": base58(44),
            },
            "signatures": [sig],
        },
        "version": 0,
    }


class FakeSolanaRPC:
    """Answers getTransaction from ``transactions`` (signature -> result, None = not found).

    ``errors`` maps a signature to a JSON-RPC error object; ``http_status`` to an HTTP error;
    signatures in ``hang`` never get an answer (until the test ends).
    """

    def __init__(self) -> None:
        self.transactions: dict[str, dict[str, Any] | None] = {}
        self.errors: dict[str, dict[str, Any]] = {}
        self.http_status: dict[str, int] = {}
        self.hang: set[str] = set()
        self.requests: list[dict[str, Any]] = []
        self.url = ""
        self._release = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        rpc_id = body.get("id")
        if body.get("method") != "getTransaction":
            return web.json_response(
                {
                    "jsonrpc": "2.0",
                    "id": rpc_id,
                    "error": {"code": -32601, "message": "Method not found"},
                }
            )
        sig = body["params"][0]
        if sig in self.hang:
            await self._release.wait()
        if sig in self.http_status:
            return web.Response(status=self.http_status[sig], text="upstream unavailable")
        if sig in self.errors:
            return web.json_response({"jsonrpc": "2.0", "id": rpc_id, "error": self.errors[sig]})
        result = self.transactions.get(sig)
        return web.json_response({"jsonrpc": "2.0", "id": rpc_id, "result": result})

    @asynccontextmanager
    async def running(self) -> AsyncIterator[FakeSolanaRPC]:
        app = web.Application()
        app.router.add_post("/", self.handle)
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/"
        try:
            yield self
        finally:
            self._release.set()
            await runner.cleanup()
