"""The retry policy is pure: which statuses retry, how long to wait, when to give up."""

from __future__ import annotations

import pytest

from agent_runner.llm import RetryPolicy, is_retryable_status, parse_retry_after, retry_delay

POLICY = RetryPolicy(max_retries=3, base_delay=0.5, max_delay=4.0, max_retry_after=30.0)


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (422, False),
        (408, True),
        (409, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (599, True),
    ],
)
def test_retryable_statuses(status: int, retryable: bool) -> None:
    assert is_retryable_status(status) is retryable


@pytest.mark.parametrize(
    ("attempt", "retry_after", "jitter", "expected"),
    [
        (0, None, None, 0.5),
        (1, None, None, 1.0),
        (2, None, None, 2.0),
        (3, None, None, None),  # the cap on retries
        (0, 7.0, None, 7.0),  # the server's Retry-After wins, unjittered
        (0, 7.0, 0.99, 7.0),
        (0, 0.0, None, 0.0),
        (1, 30.0, None, 30.0),  # at the cap: honoured
        (1, 31.0, None, None),  # over the cap: give up rather than wait that long
        (2, 2.0, None, 2.0),
        (3, 1.0, None, None),
        (0, None, 0.0, 0.25),  # jitter spreads the backoff over [delay / 2, delay)
        (2, None, 0.5, 1.5),
    ],
)
def test_retry_delay(
    attempt: int, retry_after: float | None, jitter: float | None, expected: float | None
) -> None:
    assert retry_delay(POLICY, attempt, retry_after=retry_after, jitter=jitter) == expected


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(max_retries=100, base_delay=0.5, max_delay=4.0)
    assert [retry_delay(policy, n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert retry_delay(policy, 99) == 4.0
    assert retry_delay(RetryPolicy(max_retries=0), 0) is None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "0.25"}, 0.25),
        ({"Retry-After": "-5"}, 0.0),
        ({"retry-after-ms": "1500", "Retry-After": "9"}, 1.5),  # ms is preferred
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "Sat, 21 Nov 2026 01:00:10 GMT"}, 10.0),  # an HTTP date
        ({"Retry-After": "Sat, 21 Nov 2026 00:59:00 GMT"}, 0.0),  # in the past
        ({"Retry-After": "nan"}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    now = 1_795_222_800.0  # Sat, 21 Nov 2026 01:00:00 GMT
    assert parse_retry_after(headers, now=now) == expected


def test_policy_rejects_negative_values() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_retries=-1)
    with pytest.raises(ValueError):
        RetryPolicy(base_delay=-1.0)
