"""The retry policy: bounded exponential backoff, jitter, Retry-After, attempt limits."""

from __future__ import annotations

import random

import pytest

from incidents.notify.channels import DeliveryResult
from incidents.notify.retry import RetryPolicy

RETRYABLE = DeliveryResult(
    ok=False, retryable=True, status=503, retry_after=None, detail="HTTP 503"
)
FINAL = DeliveryResult(ok=False, retryable=False, status=400, retry_after=None, detail="HTTP 400")
DELIVERED = DeliveryResult(
    ok=True, retryable=False, status=200, retry_after=None, detail="HTTP 200"
)


def test_without_jitter_the_delay_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(base=0.5, factor=2.0, max_delay=10.0, jitter=0.0)
    rng = random.Random(1)
    assert [policy.delay(n, None, rng) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 10, 10]


def test_huge_attempt_numbers_stay_at_the_cap_without_overflow() -> None:
    policy = RetryPolicy(base=1.0, factor=3.0, max_delay=300.0, jitter=0.0)
    assert policy.delay(10_000, None, random.Random(0)) == 300.0


def test_jitter_stays_within_its_proportion_below_the_backoff() -> None:
    policy = RetryPolicy(base=1.0, factor=2.0, max_delay=300.0, jitter=0.2)
    rng = random.Random(42)
    for attempt in range(1, 12):
        backoff = min(300.0, 2.0 ** (attempt - 1))
        delays = [policy.delay(attempt, None, rng) for _ in range(200)]
        assert all(0.8 * backoff <= d <= backoff for d in delays)
        assert max(delays) - min(delays) > 0.1 * backoff  # it really varies


def test_full_jitter_spreads_over_the_whole_backoff() -> None:
    policy = RetryPolicy(base=8.0, max_delay=8.0, jitter=1.0)
    delays = [policy.delay(1, None, random.Random(seed)) for seed in range(500)]
    assert min(delays) < 1.0 and max(delays) > 7.0
    assert all(0.0 < d <= 8.0 for d in delays)


def test_the_same_rng_seed_gives_the_same_schedule() -> None:
    policy = RetryPolicy()
    first = [policy.delay(n, None, random.Random(7)) for n in range(1, 6)]
    assert first == [policy.delay(n, None, random.Random(7)) for n in range(1, 6)]


def test_retry_after_is_a_floor_and_is_capped() -> None:
    policy = RetryPolicy(base=1.0, jitter=0.2, max_retry_after=3600.0)
    rng = random.Random(0)
    assert policy.delay(1, 30.0, rng) == 30.0
    assert policy.delay(1, 0.0, rng) <= 1.0  # "now" does not shorten the backoff
    assert 4.0 * 0.8 <= policy.delay(3, 1.0, rng) <= 4.0  # a short one does not either
    assert policy.delay(1, 86_400.0 * 365, rng) == 3600.0
    assert policy.delay(1, float("inf"), rng) == 3600.0
    assert policy.delay(1, float("nan"), rng) <= 1.0


def test_should_retry_only_retryable_failures_within_the_attempt_limit() -> None:
    unlimited = RetryPolicy()
    assert unlimited.should_retry(RETRYABLE, 1)
    assert unlimited.should_retry(RETRYABLE, 1_000)
    assert not unlimited.should_retry(FINAL, 1)
    assert not unlimited.should_retry(DELIVERED, 1)
    limited = RetryPolicy(max_attempts=2)
    assert limited.should_retry(RETRYABLE, 1)
    assert not limited.should_retry(RETRYABLE, 2)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"base": 0.0}, "base"),
        ({"factor": 0.5}, "factor"),
        ({"max_delay": 0.1}, "max_delay"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"jitter": 1.5}, "jitter"),
        ({"max_retry_after": -1.0}, "max_retry_after"),
    ],
)
def test_invalid_policies_are_refused_with_the_field_named(kwargs: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        RetryPolicy(**kwargs)
