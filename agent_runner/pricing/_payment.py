"""Payment gating: serve a request only when its payment is verified and not used before.

A :class:`PaymentGate` sets the price of one request and where the money must go; a
:class:`PaymentVerifier` confirms a payment reference (for Solana: a transaction signature)
against the chain. Used references are recorded in the store (``store.payment_use``), so a
reference pays for one request only, also across restarts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from agent_runner.errors import ConfigurationError, PaymentError
from agent_runner.message import Message
from agent_runner.store import Store


@runtime_checkable
class PaymentVerifier(Protocol):
    """Confirms that payment ``reference`` paid at least ``price`` to ``recipient``, recently.

    Raises :class:`~agent_runner.errors.PaymentError` with a clear reason when it did not (or
    when that cannot be checked, e.g. the RPC endpoint is down).
    """

    async def verify(self, reference: str, *, price: int, recipient: str) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentGate:
    """The price of one request.

    Args:
        price: the amount, in the chain's smallest unit (lamports for SOL: 1 SOL = 10**9).
        recipient: the wallet that must receive it (a base58 public key for Solana).
        verifier: checks a payment reference against the chain.
        unit: the name of ``price``'s unit, for messages to users.

    Example:
        ::

            gate = PaymentGate(
                price=5_000_000,                      # 0.005 SOL
                recipient="9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin",
                verifier=SolanaPaymentVerifier(rpc_url="https://api.mainnet-beta.solana.com"),
            )
            pricing = Pricing(payment=gate)
    """

    price: int
    recipient: str
    verifier: PaymentVerifier
    unit: str = "lamports"

    def __post_init__(self) -> None:
        if not isinstance(self.price, int) or self.price <= 0:
            raise ConfigurationError(f"PaymentGate.price must be an int > 0, not {self.price!r}")
        if not self.recipient.strip():
            raise ConfigurationError("PaymentGate.recipient must be a wallet address")

    @property
    def instructions(self) -> str:
        """What a user must do to pay."""
        return (
            f"payment required: send {self.price} {self.unit} to {self.recipient} "
            "and include the transaction signature"
        )


async def check_payment(gate: PaymentGate | None, message: Message, store: Store) -> None:
    """Let ``message`` through if no payment is required or its payment is good and unused.

    Verifies ``message.payment`` with the gate's verifier, then marks it used by this message
    (``store.payment_use``; the same message handled again after a restart keeps it).

    Raises:
        PaymentError: no payment, a payment the verifier refuses, or one already used.
    """
    if gate is None:
        return
    reference = (message.payment or "").strip()
    if not reference:
        raise PaymentError(gate.instructions)
    await gate.verifier.verify(reference, price=gate.price, recipient=gate.recipient)
    if not await store.payment_use(reference, key=message.key):
        raise PaymentError("payment already used")


__all__ = ["PaymentGate", "PaymentVerifier", "check_payment"]
