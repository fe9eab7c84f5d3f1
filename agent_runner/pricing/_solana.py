"""Verify SOL payments with the Solana JSON-RPC ``getTransaction`` method (over aiohttp).

A payment reference is a transaction signature. It is good when the transaction exists at the
configured commitment, succeeded (``meta.err`` is null), is recent (its ``blockTime`` is within
``max_age`` seconds), and raised the recipient's balance by at least the price (lamports:
``postBalances[i] - preBalances[i]`` at the recipient's account index).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import aiohttp

from agent_runner.errors import ConfigurationError, PaymentError

_BASE58 = re.compile(r"[1-9A-HJ-NP-Za-km-z]{32,100}")
_TRANSIENT = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


def account_keys(transaction: Mapping[str, Any], meta: Mapping[str, Any]) -> list[str]:
    """The transaction's account addresses, in the order of ``preBalances``.

    ``accountKeys`` holds strings (``json`` encoding) or objects with ``pubkey``
    (``jsonParsed``); addresses loaded from lookup tables (``meta.loadedAddresses``) follow
    the static keys when they are not listed already.

    Example:
        >>> account_keys({"message": {"accountKeys": [{"pubkey": "A"}, "B"]}}, {})
        ['A', 'B']
    """
    message = transaction.get("message") or {}
    keys: list[str] = []
    for entry in message.get("accountKeys") or []:
        if isinstance(entry, str):
            keys.append(entry)
        elif isinstance(entry, Mapping) and isinstance(entry.get("pubkey"), str):
            keys.append(entry["pubkey"])
        else:
            raise PaymentError("unexpected transaction format: bad account key")
    loaded = meta.get("loadedAddresses") or {}
    balances = meta.get("preBalances") or []
    if len(keys) < len(balances):
        keys.extend(loaded.get("writable") or [])
        keys.extend(loaded.get("readonly") or [])
    return keys


def check_transaction(
    result: Any, *, price: int, recipient: str, now: float, max_age: float
) -> int:
    """Check a ``getTransaction`` result; return the lamports the recipient received.

    Raises:
        PaymentError: with the reason the payment is not good.
    """
    if result is None:
        raise PaymentError("payment not found: no confirmed transaction with this signature")
    if not isinstance(result, Mapping):
        raise PaymentError("unexpected transaction format from the Solana RPC")
    meta = result.get("meta")
    if not isinstance(meta, Mapping):
        raise PaymentError("the payment transaction has no status (meta) yet")
    if meta.get("err") is not None:
        raise PaymentError(f"the payment transaction failed: {json.dumps(meta['err'])}")
    block_time = result.get("blockTime")
    if not isinstance(block_time, int | float):
        raise PaymentError("the payment transaction has no block time yet")
    age = now - block_time
    if age > max_age:
        raise PaymentError(
            f"the payment is too old: made {age:.0f} s ago, payments must be under "
            f"{max_age:.0f} s old"
        )
    keys = account_keys(result.get("transaction") or {}, meta)
    if recipient not in keys:
        raise PaymentError(f"the payment did not go to {recipient}")
    index = keys.index(recipient)
    pre: Sequence[Any] = meta.get("preBalances") or []
    post: Sequence[Any] = meta.get("postBalances") or []
    if index >= len(pre) or index >= len(post):
        raise PaymentError("unexpected transaction format: balances missing")
    received = int(post[index]) - int(pre[index])
    if received < price:
        raise PaymentError(
            f"the payment is too small: {recipient} received {max(received, 0)} lamports, "
            f"the price is {price}"
        )
    return received


class SolanaPaymentVerifier:
    """A :class:`~agent_runner.pricing.PaymentVerifier` for SOL transfers.

    Args:
        rpc_url: the Solana JSON-RPC endpoint (e.g. ``https://api.mainnet-beta.solana.com``).
        max_age: how old (seconds, by ``blockTime``) a payment may be.
        commitment: ``"confirmed"`` (default) or ``"finalized"``.
        timeout: the total time allowed for one RPC call, in seconds.
        clock: the time source (Unix seconds), to compare with ``blockTime``.
        session: an aiohttp session to use (yours to close); by default each verification
            opens and closes its own.

    Example:
        >>> verifier = SolanaPaymentVerifier(rpc_url="https://api.devnet.solana.com")
        >>> # await verifier.verify(signature, price=5_000_000, recipient=wallet)
    """

    def __init__(
        self,
        *,
        rpc_url: str,
        max_age: float = 600.0,
        commitment: Literal["confirmed", "finalized"] = "confirmed",
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        if not rpc_url.startswith(("http://", "https://")):
            raise ConfigurationError(f"rpc_url must be an http(s) URL, not {rpc_url!r}")
        if commitment not in ("confirmed", "finalized"):
            raise ConfigurationError(f"commitment must be confirmed or finalized: {commitment!r}")
        self.rpc_url = rpc_url
        self.max_age = max_age
        self.commitment = commitment
        self.timeout = timeout
        self._clock = clock
        self._session = session
        self._ids = 0

    async def verify(self, reference: str, *, price: int, recipient: str) -> None:
        """Confirm the payment or raise PaymentError with the reason."""
        if not _BASE58.fullmatch(reference):
            raise PaymentError("the payment reference is not a Solana transaction signature")
        result = await self._get_transaction(reference)
        check_transaction(
            result, price=price, recipient=recipient, now=self._clock(), max_age=self.max_age
        )

    async def _get_transaction(self, signature: str) -> Any:
        self._ids += 1
        request = {
            "jsonrpc": "2.0",
            "id": self._ids,
            "method": "getTransaction",
            "params": [
                signature,
                {
                    "encoding": "jsonParsed",
                    "maxSupportedTransactionVersion": 0,
                    "commitment": self.commitment,
                },
            ],
        }
        try:
            if self._session is not None:
                return await self._post(self._session, request)
            async with aiohttp.ClientSession() as session:
                return await self._post(session, request)
        except _TRANSIENT as exc:
            reason = "timed out" if isinstance(exc, asyncio.TimeoutError) else str(exc)
            raise PaymentError(
                f"cannot verify the payment now: Solana RPC unreachable ({reason or type(exc)})"
            ) from exc

    async def _post(self, session: aiohttp.ClientSession, request: dict[str, Any]) -> Any:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with session.post(self.rpc_url, json=request, timeout=timeout) as response:
            if response.status != 200:
                raise PaymentError(
                    f"cannot verify the payment now: Solana RPC answered HTTP {response.status}"
                )
            try:
                body = await response.json(content_type=None)
            except ValueError as exc:
                raise PaymentError(
                    "cannot verify the payment now: Solana RPC sent bad JSON"
                ) from exc
        if not isinstance(body, Mapping):
            raise PaymentError("cannot verify the payment now: Solana RPC sent bad JSON")
        error = body.get("error")
        if error is not None:
            detail = error.get("message", error) if isinstance(error, Mapping) else error
            code = f" ({error.get('code')})" if isinstance(error, Mapping) else ""
            raise PaymentError(f"Solana RPC error{code}: {detail}")
        return body.get("result")


__all__ = ["SolanaPaymentVerifier", "account_keys", "check_transaction"]
