"""Pricing: cost metering with budgets, and payment gating (with a Solana verifier).

::

    pricing = Pricing(
        prices={"gpt-4o-mini": ModelPrice(input_per_million=0.15, output_per_million=0.60)},
        budget=Budget(per_conversation=0.05, per_day=5.0, total=100.0),
        payment=PaymentGate(price=5_000_000, recipient=WALLET,
                            verifier=SolanaPaymentVerifier(rpc_url=SOLANA_RPC_URL)),
    )
    runtime = AgentRuntime(inputs, outputs, agent, pricing=pricing)
"""

from agent_runner.pricing._budget import Budget, BudgetLedger
from agent_runner.pricing._meter import NullMeter, RequestMeter, utc_day
from agent_runner.pricing._payment import PaymentGate, PaymentVerifier, check_payment
from agent_runner.pricing._prices import ModelPrice, find_price
from agent_runner.pricing._pricing import Pricing
from agent_runner.pricing._solana import SolanaPaymentVerifier

__all__ = [
    "Budget",
    "BudgetLedger",
    "ModelPrice",
    "NullMeter",
    "PaymentGate",
    "PaymentVerifier",
    "Pricing",
    "RequestMeter",
    "SolanaPaymentVerifier",
    "check_payment",
    "find_price",
    "utc_day",
]
