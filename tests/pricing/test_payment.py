"""Payment gating with any PaymentVerifier: required, verified, used once."""

from __future__ import annotations

import pytest

from agent_runner.errors import ConfigurationError, PaymentError
from agent_runner.message import Author, Message
from agent_runner.pricing import PaymentGate, Pricing
from agent_runner.store import InMemoryStore

WALLET = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"


class LedgerVerifier:
    """Knows payments as reference -> (amount, recipient), like a tiny chain."""

    def __init__(self, payments: dict[str, tuple[int, str]]) -> None:
        self.payments = payments
        self.calls: list[tuple[str, int, str]] = []

    async def verify(self, reference: str, *, price: int, recipient: str) -> None:
        self.calls.append((reference, price, recipient))
        amount, to = self.payments.get(reference, (0, ""))
        if to != recipient or amount < price:
            raise PaymentError("payment not found")


def message(n: int, payment: str | None = None) -> Message:
    return Message(
        id=str(n),
        conversation_id="c",
        source="http",
        author=Author(id="u"),
        text="hello",
        payment=payment,
    )


def gated(verifier: LedgerVerifier) -> Pricing:
    return Pricing(payment=PaymentGate(price=1000, recipient=WALLET, verifier=verifier))


async def test_no_gate_lets_everything_through() -> None:
    await Pricing().check_payment(message(1), InMemoryStore())


async def test_missing_payment_says_how_to_pay() -> None:
    verifier = LedgerVerifier({})
    with pytest.raises(PaymentError) as info:
        await gated(verifier).check_payment(message(1, "  "), InMemoryStore())
    assert str(info.value) == (
        f"payment required: send 1000 lamports to {WALLET} and include the transaction signature"
    )
    assert verifier.calls == []


async def test_verified_payment_is_used_once() -> None:
    store = InMemoryStore()
    verifier = LedgerVerifier({"sig": (1000, WALLET)})
    pricing = gated(verifier)
    await pricing.check_payment(message(1, "sig"), store)
    assert verifier.calls == [("sig", 1000, WALLET)]
    with pytest.raises(PaymentError, match="payment already used"):
        await pricing.check_payment(message(2, "sig"), store)
    await pricing.check_payment(message(1, "sig"), store)  # the same request again: fine


async def test_refused_payment_is_not_marked_used() -> None:
    store = InMemoryStore()
    verifier = LedgerVerifier({"small": (999, WALLET)})
    with pytest.raises(PaymentError, match="payment not found"):
        await gated(verifier).check_payment(message(1, "small"), store)
    assert await store.payment_use("small", key="other") is True


@pytest.mark.parametrize(("price", "recipient"), [(0, WALLET), (-1, WALLET), (10, " ")])
def test_bad_gate(price: int, recipient: str) -> None:
    with pytest.raises(ConfigurationError):
        PaymentGate(price=price, recipient=recipient, verifier=LedgerVerifier({}))
