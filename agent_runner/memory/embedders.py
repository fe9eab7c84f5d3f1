"""Embedders: text to vectors for long-term memory.

:class:`Embedder` is the contract (one async method); two implementations ship:

* :class:`HashingEmbedder`: small, deterministic, offline (hashed words, word pairs and
  character trigrams, L2-normalised). Texts that share words rank close, which is what tests
  and offline bots need; it knows no synonyms.
* :class:`OpenAIEmbedder`: any OpenAI-compatible ``/v1/embeddings`` endpoint (OpenAI, Ollama,
  vLLM, llama.cpp), through the ``openai`` package (the ``llm`` extra, imported when first
  used); every call has a timeout, retries go through :mod:`agent_runner.backoff`.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from agent_runner.backoff import RetryPolicy, is_retryable_status, retry_after_from_headers
from agent_runner.errors import ConfigurationError, ModelClientError


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors of one fixed dimension (unit length is not required)."""

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order."""
        ...


_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STOPWORDS = frozenset(
    "a an and are as at be by do does for from has have i in is it its me my of on or our "
    "so that the their them they this to was we were what when where which who will with "
    "you your".split()
)


def _stem(word: str) -> str:
    """A very small English suffix stripper: like, likes, liked, liking -> lik."""
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    return word[:-1] if len(word) > 3 and word.endswith("e") else word


class HashingEmbedder:
    """A deterministic offline embedder: hashed features, L2-normalised.

    Features: each content word (stop words dropped, light stemming) with weight 1, each
    pair of neighbouring words with weight 0.5, each character trigram of each word with
    weight 0.3; each is hashed (BLAKE2b) to a dimension and a sign.

    Args:
        dimensions: the vector size.

    Example:
        >>> vector = asyncio.run(HashingEmbedder(dimensions=64).embed(["hello"]))[0]
        >>> len(vector), round(sum(v * v for v in vector), 6)
        (64, 1.0)
    """

    def __init__(self, *, dimensions: int = 512) -> None:
        if dimensions < 8:
            raise ValueError("dimensions must be >= 8")
        self.dimensions = dimensions

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.embed_one(text) for text in texts]

    def embed_one(self, text: str) -> list[float]:
        """The vector of one text (pure, synchronous)."""
        vector = [0.0] * self.dimensions
        words = [_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOPWORDS]
        features: list[tuple[str, float]] = [(f"w:{w}", 1.0) for w in words]
        features += [(f"b:{a} {b}", 0.5) for a, b in zip(words, words[1:], strict=False)]
        for word in words:
            padded = f"^{word}$"
            features += [(f"c:{padded[i : i + 3]}", 0.3) for i in range(len(padded) - 2)]
        for feature, weight in features:
            digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
            index = int.from_bytes(digest[:4], "little") % self.dimensions
            vector[index] += weight if digest[4] & 1 else -weight
        norm = math.sqrt(sum(v * v for v in vector))
        return [v / norm for v in vector] if norm else vector


class OpenAIEmbedder:
    """Embeddings from an OpenAI-compatible ``/v1/embeddings`` endpoint.

    Args:
        model: the embedding model (e.g. ``text-embedding-3-small``, ``nomic-embed-text``).
        base_url: the API root (default: OpenAI's), e.g. ``http://localhost:11434/v1``.
        api_key: the key (local servers need none).
        timeout: seconds per attempt.
        retry: retries of timeouts, connection errors, 429 and 5xx (Retry-After honoured).
        dimensions: ask for shorter vectors (models that support it).
        batch_size: texts per request.
        sleep: the wait between retries (tests inject a recording one).
    """

    def __init__(
        self,
        *,
        model: str = "text-embedding-3-small",
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        dimensions: int | None = None,
        batch_size: int = 64,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.timeout = timeout
        self.retry = retry or RetryPolicy(retries=3, base=0.5, cap=8.0, jitter="equal")
        self.dimensions = dimensions
        self.batch_size = batch_size
        self._api_key = api_key
        self._sleep = sleep
        self._client: Any = None

    def _openai(self) -> Any:
        if self._client is None:
            try:
                import openai
            except ImportError as exc:  # pragma: no cover - the llm extra is missing
                raise ConfigurationError(
                    "OpenAIEmbedder needs the openai package: pip install 'agent-runner[llm]'"
                ) from exc
            self._client = openai.AsyncOpenAI(
                api_key=self._api_key or "unused",
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=0,
            )
        return self._client

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            vectors += await self._batch(list(texts[start : start + self.batch_size]))
        return vectors

    async def _batch(self, texts: list[str]) -> list[list[float]]:
        import openai

        client = self._openai()
        extra: dict[str, Any] = {"dimensions": self.dimensions} if self.dimensions else {}
        attempt = 0
        while True:
            try:
                response = await client.embeddings.create(model=self.model, input=texts, **extra)
                ordered = sorted(response.data, key=lambda item: item.index)
                return [list(item.embedding) for item in ordered]
            except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                reason, retry_after, retryable = f"{type(exc).__name__}", None, True
            except openai.APIStatusError as exc:
                reason = f"HTTP {exc.status_code}: {exc.message}"
                retry_after = retry_after_from_headers(dict(exc.response.headers))
                retryable = is_retryable_status(exc.status_code)
            attempt += 1
            wait = self.retry.wait(attempt, retry_after=retry_after) if retryable else None
            if wait is None:
                raise ModelClientError(
                    f"embeddings from {self.base_url or 'OpenAI'} failed after {attempt} "
                    f"attempt(s): {reason}"
                )
            await self._sleep(wait)

    async def close(self) -> None:
        """Close the HTTP client."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()


__all__ = ["Embedder", "HashingEmbedder", "OpenAIEmbedder"]
