"""Embedders: the offline hashing one, and the OpenAI client against a local /v1/embeddings."""

from __future__ import annotations

import math

import pytest

from agent_runner.backoff import RetryPolicy
from agent_runner.errors import ModelClientError
from agent_runner.memory import Embedder, HashingEmbedder, OpenAIEmbedder
from tests.llm.support import Sleeps
from tests.memory.embeddings_server import EmbeddingsServer


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


async def test_hashing_vectors_are_deterministic_and_unit_length() -> None:
    embedder = HashingEmbedder(dimensions=128)
    assert isinstance(embedder, Embedder)
    first, again, empty = await embedder.embed(["The cat sat", "The cat sat", ""])
    assert first == again and len(first) == 128
    assert math.isclose(math.sqrt(sum(v * v for v in first)), 1.0)
    assert empty == [0.0] * 128


@pytest.mark.parametrize(
    ("query", "close", "far"),
    [
        ("which drinks does she like", "She likes drinking green tea", "Her bike is red"),
        ("cats", "Ada has two cats", "Ada has a dog"),
        ("deployment on friday", "We deploy the release on Friday", "Lunch is at noon"),
    ],
)
async def test_texts_sharing_words_rank_closer(query: str, close: str, far: str) -> None:
    q, a, b = await HashingEmbedder().embed([query, close, far])
    assert cosine(q, a) > cosine(q, b)


@pytest.fixture
async def server() -> EmbeddingsServer:
    async with EmbeddingsServer() as running:
        yield running  # type: ignore[misc]


def client(server: EmbeddingsServer, sleeps: Sleeps, **options: object) -> OpenAIEmbedder:
    return OpenAIEmbedder(
        model="embed-test",
        base_url=server.base_url,
        api_key=server.api_key,
        retry=RetryPolicy(retries=2, base=0.5, cap=4.0, max_retry_after=10.0),
        sleep=sleeps,
        **options,  # type: ignore[arg-type]
    )


async def test_openai_embedder_speaks_the_wire_protocol(server: EmbeddingsServer) -> None:
    sleeps = Sleeps()
    embedder = client(server, sleeps, batch_size=2)
    try:
        vectors = await embedder.embed(["one", "two", "three"])
    finally:
        await embedder.close()
    assert vectors == await server.embedder.embed(["one", "two", "three"])  # order kept
    assert [r["input"] for r in server.requests] == [["one", "two"], ["three"]]
    assert server.requests[0]["model"] == "embed-test" and sleeps.delays == []


async def test_openai_embedder_retries_with_retry_after_then_gives_up(
    server: EmbeddingsServer,
) -> None:
    sleeps = Sleeps()
    embedder = client(server, sleeps)
    server.failures.extend([(429, {"Retry-After": "3"}), (503, {})])
    try:
        assert len((await embedder.embed(["x"]))[0]) == 64
        assert sleeps.delays == [3.0, 1.0]
        server.failures.extend([(500, {})] * 3)
        with pytest.raises(ModelClientError, match="after 3 attempt"):
            await embedder.embed(["x"])
        server.failures.append((400, {}))
        with pytest.raises(ModelClientError, match="HTTP 400"):
            await embedder.embed(["x"])  # not retryable
    finally:
        await embedder.close()


async def test_openai_embedder_times_out_each_attempt(server: EmbeddingsServer) -> None:
    sleeps = Sleeps()
    embedder = client(server, sleeps, timeout=0.2)
    server.failures.extend(["hang", "hang", "hang"])
    try:
        with pytest.raises(ModelClientError, match="APITimeoutError"):
            await embedder.embed(["x"])
    finally:
        await embedder.close()
    assert len(server.requests) == 3 and sleeps.delays == [0.5, 1.0]
