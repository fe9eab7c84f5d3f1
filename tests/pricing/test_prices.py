"""Model prices and their lookup."""

from __future__ import annotations

import pytest

from agent_runner.errors import ConfigurationError
from agent_runner.pricing import ModelPrice, find_price

TABLE = {
    "gpt-4o": ModelPrice(input_per_million=2.5, output_per_million=10.0),
    "gpt-4o-mini": ModelPrice(input_per_million=0.15, output_per_million=0.6),
    "llama": ModelPrice(input_per_million=0.0, output_per_million=0.0),
}


@pytest.mark.parametrize(
    ("price", "tokens", "cost"),
    [
        (ModelPrice(2.5, 10.0), (1_000_000, 0), 2.5),
        (ModelPrice(2.5, 10.0), (0, 1_000_000), 10.0),
        (ModelPrice(2.5, 10.0), (1_000, 500), 0.0075),
        (ModelPrice(2.5, 10.0), (0, 0), 0.0),
        (ModelPrice(2.5, 10.0), (-5, 0), 0.0),  # nonsense usage never credits money
    ],
)
def test_cost(price: ModelPrice, tokens: tuple[int, int], cost: float) -> None:
    assert price.cost(*tokens) == pytest.approx(cost)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o", "gpt-4o"),
        ("gpt-4o-mini", "gpt-4o-mini"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),  # the longest matching entry
        ("llama-3.1-8b", "llama"),
    ],
)
def test_find_price(model: str, expected: str) -> None:
    assert find_price(TABLE, model) is TABLE[expected]


def test_unknown_model_uses_the_default() -> None:
    default = ModelPrice(1.0, 1.0)
    assert find_price(TABLE, "claude", default) is default


def test_unknown_model_without_default_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="no price for model 'claude'.*default_price"):
        find_price(TABLE, "claude")


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), "1"])
def test_bad_prices_are_refused(bad: object) -> None:
    with pytest.raises(ConfigurationError):
        ModelPrice(bad, 1.0)  # type: ignore[arg-type]
