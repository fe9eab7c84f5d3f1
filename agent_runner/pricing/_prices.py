"""Model prices: what a million input and output tokens cost, and the lookup by model name."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from agent_runner.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """The price of a model, in your currency (e.g. USD) per million tokens.

    Example:
        >>> ModelPrice(input_per_million=2.5, output_per_million=10.0).cost(1_000, 500)
        0.0075
    """

    input_per_million: float
    output_per_million: float

    def __post_init__(self) -> None:
        for name in ("input_per_million", "output_per_million"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ConfigurationError(f"ModelPrice.{name} must be a number >= 0, not {value!r}")

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """The cost of a call that used these many tokens."""
        return (
            max(input_tokens, 0) * self.input_per_million
            + max(output_tokens, 0) * self.output_per_million
        ) / 1_000_000


def find_price(
    prices: Mapping[str, ModelPrice], model: str, default: ModelPrice | None = None
) -> ModelPrice:
    """The price of ``model``: an exact entry, else the longest entry it starts with (dated
    snapshots like ``gpt-4o-2024-08-06`` use ``gpt-4o``), else ``default``.

    Raises:
        ConfigurationError: the model has no price and there is no default.

    Example:
        >>> table = {"gpt-4o": ModelPrice(2.5, 10.0), "gpt-4o-mini": ModelPrice(0.15, 0.6)}
        >>> find_price(table, "gpt-4o-mini-2024-07-18").input_per_million
        0.15
    """
    price = prices.get(model)
    if price is not None:
        return price
    prefixes = [name for name in prices if name and model.startswith(name)]
    if prefixes:
        return prices[max(prefixes, key=len)]
    if default is not None:
        return default
    known = ", ".join(sorted(prices)) or "none"
    raise ConfigurationError(
        f"no price for model {model!r} (priced models: {known}); add it to Pricing(prices=...) "
        "or set Pricing(default_price=...)"
    )


__all__ = ["ModelPrice", "find_price"]
