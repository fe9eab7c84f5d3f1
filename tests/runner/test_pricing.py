"""Budgets and payments through the whole runner (STATE's Pricing, a fake PaymentVerifier)."""

from __future__ import annotations

from pathlib import Path

from agent_runner import AgentContext, Message, PaymentError
from agent_runner.pricing import Budget, ModelPrice, PaymentGate, Pricing
from agent_runner.store import SQLiteStore, Store
from connectors.inmemory import InMemoryConnector
from tests.runner.support import make, running

DOLLAR_A_TOKEN = ModelPrice(input_per_million=1_000_000.0, output_per_million=0.0)


class CallsModel:
    """An agent that 'calls a model' costing $1 per message, metered like a real one."""

    def __init__(self) -> None:
        self.calls = 0

    async def execute(self, message: Message, context: AgentContext) -> str:
        await context.cost.check("model", input_tokens=1, max_output_tokens=0)
        self.calls += 1
        await context.cost.record("model", input_tokens=1, output_tokens=0)
        return f"answered {message.text} for ${context.cost.spent:.2f}"


async def test_budget_stops_spending_with_the_budget_reply(store: Store) -> None:
    chat = InMemoryConnector()
    agent = CallsModel()
    pricing = Pricing(prices={"model": DOLLAR_A_TOKEN}, budget=Budget(per_conversation=2.5))
    runtime = make([chat], [chat], agent, pricing=pricing, store=store, budget_reply="no money")
    async with running(runtime):
        for n in range(4):
            await chat.push(str(n), conversation_id="rich")
        await chat.wait_for_replies(4)
        await chat.push("x", conversation_id="other")  # its own budget
        await chat.wait_for_replies(5)
        assert await runtime.store.cost_sum(conversation_key="memory:rich") == 2.0
    assert chat.replies_to("rich") == [
        "answered 0 for $1.00",
        "answered 1 for $1.00",
        "no money",  # the check before the third call would exceed 2.5
        "no money",
    ]
    assert chat.replies_to("other") == ["answered x for $1.00"]
    assert agent.calls == 3


async def test_a_used_up_budget_does_not_run_the_agent(store: Store) -> None:
    chat = InMemoryConnector()
    agent = CallsModel()
    pricing = Pricing(prices={"model": DOLLAR_A_TOKEN}, budget=Budget(total=1.0))
    async with running(make([chat], [chat], agent, pricing=pricing, store=store)):
        await chat.push("first", conversation_id="a")
        await chat.wait_for_replies(1)
        await chat.push("second", conversation_id="b")
        sent = await chat.wait_for_replies(2)
    assert sent[1][1].text.startswith("Sorry, I have reached my spending limit")
    assert agent.calls == 1


class FakeVerifier:
    """A PaymentVerifier that knows which transactions paid us (no chain involved)."""

    def __init__(self, paid: set[str]) -> None:
        self.paid = paid
        self.checked: list[str] = []

    async def verify(self, reference: str, *, price: int, recipient: str) -> None:
        self.checked.append(reference)
        if reference not in self.paid or price != 5 or recipient != "our-wallet":
            raise PaymentError(f"transaction {reference} did not pay {price} to {recipient}")


async def test_payment_gate_and_a_replay_refused_after_restart(tmp_path: Path) -> None:
    path = tmp_path / "paid.sqlite3"
    verifier = FakeVerifier({"tx-1", "tx-2"})
    pricing = Pricing(payment=PaymentGate(price=5, recipient="our-wallet", verifier=verifier))
    calls: list[str] = []

    async def paid_agent(message: Message, context: AgentContext) -> str:
        calls.append(message.id)
        return f"served {message.id}"

    chat = InMemoryConnector()
    async with running(make([chat], [chat], paid_agent, pricing=pricing, store=SQLiteStore(path))):
        await chat.push("free?", id="m1")
        await chat.push("paid", id="m2", payment="tx-1")
        await chat.push("forged", id="m3", payment="tx-9")
        await chat.push("replay", id="m4", payment="tx-1")
        sent = [r.text for _, r in await chat.wait_for_replies(4)]
    assert (
        sent[0]
        == "payment required: send 5 lamports to our-wallet and include the transaction signature"
    )
    assert sent[1] == "served m2"
    assert sent[2] == "transaction tx-9 did not pay 5 to our-wallet"
    assert sent[3] == "payment already used"

    chat = InMemoryConnector()
    async with running(make([chat], [chat], paid_agent, pricing=pricing, store=SQLiteStore(path))):
        await chat.push("replay after restart", id="m5", payment="tx-1")
        await chat.push("new payment", id="m6", payment="tx-2")
        sent = [r.text for _, r in await chat.wait_for_replies(2)]
    assert sent == ["payment already used", "served m6"]
    assert calls == ["m2", "m6"]
