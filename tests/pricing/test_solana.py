"""SolanaPaymentVerifier against a local JSON-RPC server speaking getTransaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from agent_runner.errors import ConfigurationError, PaymentError
from agent_runner.message import Author, Message
from agent_runner.pricing import (
    PaymentGate,
    PaymentVerifier,
    Pricing,
    SolanaPaymentVerifier,
)
from agent_runner.store import SQLiteStore
from tests.pricing.fake_solana import NOW, RECIPIENT, FakeSolanaRPC, base58, signature, transfer

PRICE = 5_000_000


@pytest.fixture
async def rpc() -> AsyncIterator[FakeSolanaRPC]:
    async with FakeSolanaRPC().running() as server:
        yield server


def verifier(rpc: FakeSolanaRPC, **kwargs: object) -> SolanaPaymentVerifier:
    return SolanaPaymentVerifier(rpc_url=rpc.url, clock=lambda: NOW, **kwargs)  # type: ignore[arg-type]


async def test_is_a_payment_verifier(rpc: FakeSolanaRPC) -> None:
    assert isinstance(verifier(rpc), PaymentVerifier)


@pytest.mark.parametrize("parsed_keys", [True, False])
async def test_valid_payment(rpc: FakeSolanaRPC, parsed_keys: bool) -> None:
    sig = signature()
    rpc.transactions[sig] = transfer(sig, lamports=PRICE, parsed_keys=parsed_keys)
    await verifier(rpc).verify(sig, price=PRICE, recipient=RECIPIENT)
    [request] = rpc.requests
    assert request["jsonrpc"] == "2.0" and request["method"] == "getTransaction"
    assert request["params"] == [
        sig,
        {"encoding": "jsonParsed", "maxSupportedTransactionVersion": 0, "commitment": "confirmed"},
    ]


async def test_more_than_the_price_is_fine(rpc: FakeSolanaRPC) -> None:
    sig = signature()
    rpc.transactions[sig] = transfer(sig, lamports=PRICE * 3)
    await verifier(rpc).verify(sig, price=PRICE, recipient=RECIPIENT)


async def test_recipient_from_an_address_lookup_table(rpc: FakeSolanaRPC) -> None:
    sig = signature()
    rpc.transactions[sig] = transfer(sig, parsed_keys=False, lookup=True)
    await verifier(rpc).verify(sig, price=PRICE, recipient=RECIPIENT)


async def test_finalized_commitment_is_sent(rpc: FakeSolanaRPC) -> None:
    sig = signature()
    rpc.transactions[sig] = transfer(sig)
    await verifier(rpc, commitment="finalized").verify(sig, price=PRICE, recipient=RECIPIENT)
    assert rpc.requests[0]["params"][1]["commitment"] == "finalized"


@pytest.mark.parametrize(
    ("tx", "reason"),
    [
        (dict(lamports=PRICE - 1), "too small: .* received 4999999 lamports, the price is 5000000"),
        (dict(to=base58(44)), f"did not go to {RECIPIENT}"),
        (dict(err={"InstructionError": [0, {"Custom": 1}]}), "transaction failed: .*Custom"),
        (dict(block_time=NOW - 601), "too old: made 601 s ago"),
        (dict(block_time=None), "no block time"),
    ],
)
async def test_refused_payments(rpc: FakeSolanaRPC, tx: dict[str, object], reason: str) -> None:
    sig = signature()
    rpc.transactions[sig] = transfer(sig, **tx)  # type: ignore[arg-type]
    with pytest.raises(PaymentError, match=reason):
        await verifier(rpc).verify(sig, price=PRICE, recipient=RECIPIENT)


async def test_max_age_is_configurable(rpc: FakeSolanaRPC) -> None:
    sig = signature()
    rpc.transactions[sig] = transfer(sig, block_time=NOW - 3000)
    await verifier(rpc, max_age=3600).verify(sig, price=PRICE, recipient=RECIPIENT)


async def test_not_found(rpc: FakeSolanaRPC) -> None:
    sig = signature()
    rpc.transactions[sig] = None
    with pytest.raises(PaymentError, match="payment not found"):
        await verifier(rpc).verify(sig, price=PRICE, recipient=RECIPIENT)


async def test_rpc_error(rpc: FakeSolanaRPC) -> None:
    sig = signature()
    rpc.errors[sig] = {"code": -32602, "message": "Invalid param: WrongSize"}
    with pytest.raises(PaymentError, match=r"Solana RPC error \(-32602\): Invalid param"):
        await verifier(rpc).verify(sig, price=PRICE, recipient=RECIPIENT)


async def test_http_error(rpc: FakeSolanaRPC) -> None:
    sig = signature()
    rpc.http_status[sig] = 503
    with pytest.raises(PaymentError, match="HTTP 503"):
        await verifier(rpc).verify(sig, price=PRICE, recipient=RECIPIENT)


async def test_timeout(rpc: FakeSolanaRPC) -> None:
    sig = signature()
    rpc.hang.add(sig)
    with pytest.raises(PaymentError, match="unreachable .*timed out"):
        await verifier(rpc, timeout=0.2).verify(sig, price=PRICE, recipient=RECIPIENT)


async def test_unreachable(rpc: FakeSolanaRPC) -> None:
    url = rpc.url
    async with FakeSolanaRPC().running() as other:
        url = other.url
    v = SolanaPaymentVerifier(rpc_url=url, timeout=2.0)  # nothing listens there any more
    with pytest.raises(PaymentError, match="unreachable"):
        await v.verify(signature(), price=PRICE, recipient=RECIPIENT)


@pytest.mark.parametrize("reference", ["not a signature", "0OIl" * 22, "abc", "x" * 200])
async def test_malformed_reference_is_refused_without_a_call(
    rpc: FakeSolanaRPC, reference: str
) -> None:
    with pytest.raises(PaymentError, match="not a Solana transaction signature"):
        await verifier(rpc).verify(reference, price=PRICE, recipient=RECIPIENT)
    assert rpc.requests == []


async def test_a_given_session_is_used_and_left_open(rpc: FakeSolanaRPC) -> None:
    sig = signature()
    rpc.transactions[sig] = transfer(sig)
    async with aiohttp.ClientSession() as session:
        v = SolanaPaymentVerifier(rpc_url=rpc.url, clock=lambda: NOW, session=session)
        await v.verify(sig, price=PRICE, recipient=RECIPIENT)
        await v.verify(sig, price=PRICE, recipient=RECIPIENT)
        assert not session.closed
    assert len(rpc.requests) == 2


@pytest.mark.parametrize(
    "kwargs", [{"rpc_url": "localhost:8899"}, {"rpc_url": "http://x", "commitment": "processed"}]
)
def test_bad_configuration(kwargs: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        SolanaPaymentVerifier(**kwargs)  # type: ignore[arg-type]


def _message(n: int, payment: str | None) -> Message:
    return Message(
        id=str(n),
        conversation_id="c",
        source="http",
        author=Author(id="u"),
        text="paid question",
        payment=payment,
    )


async def test_replayed_payment_is_refused_after_a_restart(
    rpc: FakeSolanaRPC, tmp_path: Path
) -> None:
    sig = signature()
    rpc.transactions[sig] = transfer(sig)
    gate = PaymentGate(price=PRICE, recipient=RECIPIENT, verifier=verifier(rpc))
    pricing = Pricing(payment=gate)
    path = tmp_path / "store.sqlite3"

    store = SQLiteStore(path)
    await store.open()
    try:
        with pytest.raises(PaymentError, match=f"send {PRICE} lamports to {RECIPIENT}"):
            await pricing.check_payment(_message(0, None), store)
        await pricing.check_payment(_message(1, sig), store)  # verified, now used
        with pytest.raises(PaymentError, match="payment already used"):
            await pricing.check_payment(_message(2, sig), store)
    finally:
        await store.close()

    reopened = SQLiteStore(path)
    await reopened.open()
    try:
        with pytest.raises(PaymentError, match="payment already used"):
            await Pricing(payment=gate).check_payment(_message(3, sig), reopened)
        # the request that paid, handled again after the restart (recovery), still passes
        await Pricing(payment=gate).check_payment(_message(1, sig), reopened)
    finally:
        await reopened.close()
