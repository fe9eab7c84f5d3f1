"""The one retry toolkit is pure: which statuses retry, how long to wait, when to give up.

Every retry loop in the project (runner, webhook, model client, X, distributed) takes its
waits from :mod:`agent_runner.backoff`; these cases pin its single convention: ``attempt``
counts failures from 1, and ``None`` means give up.
"""

from __future__ import annotations

import pytest

from agent_runner.backoff import (
    RetryPolicy,
    backoff_delay,
    is_retryable_status,
    parse_retry_after,
    retry_after_from_headers,
)

POLICY = RetryPolicy(retries=3, base=0.5, cap=4.0, jitter="equal", max_retry_after=30.0)
NOW = 1_795_222_800.0  # Sat, 21 Nov 2026 01:00:00 GMT


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
        (425, True),
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
    ("attempt", "base", "cap", "expected"),
    [
        (1, 0.5, 30.0, 0.5),
        (2, 0.5, 30.0, 1.0),
        (3, 0.5, 30.0, 2.0),
        (7, 0.5, 30.0, 30.0),  # capped
        (10_000, 0.5, 30.0, 30.0),  # no float overflow
        (1, 0.0, 30.0, 0.0),
        (3, 1.0, 0.0, 0.0),
    ],
)
def test_backoff_doubles_up_to_the_cap(
    attempt: int, base: float, cap: float, expected: float
) -> None:
    assert backoff_delay(attempt, base=base, cap=cap) == expected


@pytest.mark.parametrize(
    ("jitter", "draw", "expected"),
    [
        ("equal", 0.0, 1.0),  # [delay / 2, delay)
        ("equal", 0.5, 1.5),
        ("full", 0.0, 0.0),  # [0, delay)
        ("full", 0.25, 0.5),
        ("none", 0.9, 2.0),  # the draw is ignored
    ],
)
def test_jitter_spreads_the_delay(jitter: str, draw: float, expected: float) -> None:
    assert backoff_delay(2, base=1.0, cap=10.0, jitter=jitter, draw=draw) == expected  # type: ignore[arg-type]


def test_jitter_without_a_draw_stays_in_range() -> None:
    for _ in range(100):
        assert 1.0 <= backoff_delay(2, base=1.0, cap=10.0, jitter="equal") < 2.0
        assert 0.0 <= backoff_delay(2, base=1.0, cap=10.0, jitter="full") < 2.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"attempt": 0, "base": 1.0, "cap": 1.0},  # attempts count from 1
        {"attempt": 1, "base": -1.0, "cap": 1.0},
        {"attempt": 1, "base": 1.0, "cap": -1.0},
        {"attempt": 1, "base": 1.0, "cap": 1.0, "jitter": "equal", "draw": 1.0},
    ],
)
def test_backoff_refuses_nonsense(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        backoff_delay(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("attempt", "retry_after", "draw", "expected"),
    [
        (1, None, 0.999999, pytest.approx(0.5)),
        (2, None, 0.0, 0.5),
        (3, None, 0.5, 1.5),  # jitter spreads the backoff over [delay / 2, delay)
        (4, None, 0.0, None),  # the cap on retries
        (1, 7.0, None, 7.0),  # the server's Retry-After wins, unjittered
        (1, 7.0, 0.99, 7.0),
        (1, 0.0, None, 0.0),
        (2, 30.0, None, 30.0),  # at max_retry_after: honoured
        (2, 31.0, None, None),  # over it: give up rather than wait that long
        (3, 2.0, None, 2.0),
        (4, 1.0, None, None),
    ],
)
def test_policy_wait(
    attempt: int, retry_after: float | None, draw: float | None, expected: object
) -> None:
    assert POLICY.wait(attempt, retry_after=retry_after, draw=draw) == expected


def test_policy_caps_the_backoff_and_the_retries() -> None:
    policy = RetryPolicy(retries=100, base=0.5, cap=4.0)
    assert [policy.wait(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert policy.wait(100) == 4.0
    assert policy.wait(101) is None
    assert RetryPolicy(retries=0).wait(1) is None


def test_policy_retry_after_limit_defaults_to_the_cap() -> None:
    policy = RetryPolicy(retries=3, base=1.0, cap=10.0)
    assert policy.wait(1, retry_after=10.0) == 10.0
    assert policy.wait(1, retry_after=10.5) is None


def test_policy_total_waiting_budget() -> None:
    policy = RetryPolicy(retries=10, base=1.0, cap=60.0, max_total=100.0)
    assert policy.wait(1, retry_after=60.0, waited=40.0) == 60.0
    assert policy.wait(1, retry_after=60.0, waited=40.5) is None
    assert policy.wait(3, waited=97.0) is None  # a 4 s backoff would go past 100 s


@pytest.mark.parametrize(
    "kwargs",
    [{"retries": -1}, {"base": -1.0}, {"cap": -0.1}, {"max_retry_after": -1}, {"max_total": -1}],
)
def test_policy_rejects_negative_values(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("3", 3.0),
        ("0.25", 0.25),
        ("-5", 0.0),
        ("soon", None),
        ("nan", None),
        ("inf", None),
        ("Sat, 21 Nov 2026 01:00:10 GMT", 10.0),  # an HTTP date
        ("Sat, 21 Nov 2026 00:59:00 GMT", 0.0),  # in the past
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "0.25"}, 0.25),
        ({"retry-after-ms": "1500", "Retry-After": "9"}, 1.5),  # ms is preferred
        ({"retry-after-ms": "bad", "Retry-After": "9"}, 9.0),
        ({"Retry-After": "Sat, 21 Nov 2026 01:00:10 GMT"}, 10.0),
    ],
)
def test_retry_after_from_headers(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_from_headers(headers, now=NOW) == expected
