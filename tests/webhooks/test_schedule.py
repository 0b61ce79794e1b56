from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webhooks.client import AttemptResult, Outcome, outcome_for
from webhooks.schedule import MAX_ATTEMPTS, SCHEDULE, THROTTLED_MIN_DELAY, next_delay

HOUR = 3600.0


def _result(
    status: int | None = 500, error: str | None = None, retry_after: float | None = None
) -> AttemptResult:
    return AttemptResult(
        outcome=Outcome.RETRY if status is None else outcome_for(status),
        status_code=status,
        duration_ms=1.0,
        error=error if status is None else None,
        retry_after_seconds=retry_after,
    )


retry_attempts = st.integers(min_value=1, max_value=MAX_ATTEMPTS - 1)
seeds = st.integers(min_value=0, max_value=2**32)
scales = st.sampled_from([1.0, 0.5, 0.001])
failures = st.one_of(
    st.builds(_result, status=st.sampled_from([300, 302, 400, 404, 429, 500, 502, 503])),
    st.builds(
        _result,
        status=st.none(),
        error=st.sampled_from(["timeout", "connect_error", "unsafe_target:loopback"]),
    ),
)


def _throttled(result: AttemptResult) -> bool:
    return result.status_code == 429 or result.error == "timeout"


def test_the_schedule_is_the_designed_one() -> None:
    assert SCHEDULE == (0, 5, 5 * 60, 30 * 60, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR)
    assert MAX_ATTEMPTS == 8


@given(retry_attempts, failures, seeds, scales)
def test_delays_stay_within_jitter_of_the_schedule(
    attempt: int, result: AttemptResult, seed: int, scale: float
) -> None:
    delay = next_delay(attempt, result, scale=scale, rng=random.Random(seed))
    assert delay is not None
    low, high = SCHEDULE[attempt] * 0.8, SCHEDULE[attempt] * 1.2
    if _throttled(result):
        low, high = max(low, THROTTLED_MIN_DELAY), max(high, THROTTLED_MIN_DELAY)
    assert low * scale <= delay <= high * scale * (1 + 1e-12)


@given(retry_attempts, st.sampled_from([429, None]), seeds, scales)
def test_429_and_timeouts_wait_at_least_a_minute(
    attempt: int, status: int | None, seed: int, scale: float
) -> None:
    result = _result(status, error="timeout")
    delay = next_delay(attempt, result, scale=scale, rng=random.Random(seed))
    assert delay is not None and delay >= THROTTLED_MIN_DELAY * scale


@given(retry_attempts, failures, seeds, scales, st.floats(min_value=0, max_value=100 * HOUR))
def test_retry_after_is_honoured_within_one_to_two_times_the_schedule(
    attempt: int, failure: AttemptResult, seed: int, scale: float, retry_after: float
) -> None:
    scheduled = next_delay(attempt, failure, scale=scale, rng=random.Random(seed))
    asked = _result(failure.status_code, failure.error, retry_after)
    delay = next_delay(attempt, asked, scale=scale, rng=random.Random(seed))
    assert scheduled is not None and delay is not None
    assert scheduled <= delay <= 2 * scheduled * (1 + 1e-12)
    if scheduled <= retry_after * scale <= 2 * scheduled:
        assert math.isclose(delay, retry_after * scale)


@given(st.integers(min_value=MAX_ATTEMPTS, max_value=1000), failures, seeds)
def test_the_schedule_ends(attempt: int, result: AttemptResult, seed: int) -> None:
    assert next_delay(attempt, result, rng=random.Random(seed)) is None


@given(retry_attempts, st.sampled_from([200, 204, 299, 410]), seeds)
def test_success_and_gone_are_never_retried(attempt: int, status: int, seed: int) -> None:
    assert next_delay(attempt, _result(status), rng=random.Random(seed)) is None


@given(retry_attempts, failures, seeds)
def test_the_same_rng_gives_the_same_delay(attempt: int, result: AttemptResult, seed: int) -> None:
    first = next_delay(attempt, result, rng=random.Random(seed))
    assert first == next_delay(attempt, result, rng=random.Random(seed))


def test_jitter_spreads_retries() -> None:
    rng = random.Random(7)
    delays = {next_delay(3, _result(503), rng=rng) or 0.0 for _ in range(50)}
    assert len(delays) == 50
    assert min(delays) < 1800 * 0.9 and max(delays) > 1800 * 1.1


def test_examples() -> None:
    no_jitter = random.Random(0)
    no_jitter.uniform = lambda a, b: 1.0  # type: ignore[method-assign]
    assert next_delay(1, _result(500), rng=no_jitter) == 5.0
    assert next_delay(1, _result(429), rng=no_jitter) == 60.0
    assert next_delay(1, _result(None, "timeout"), rng=no_jitter) == 60.0
    assert next_delay(1, _result(429, retry_after=90), rng=no_jitter) == 90.0
    assert next_delay(1, _result(429, retry_after=3600), rng=no_jitter) == 120.0
    assert next_delay(4, _result(503, retry_after=1), rng=no_jitter) == 2 * HOUR
    assert next_delay(7, _result(500), rng=no_jitter, scale=0.001) == pytest.approx(36.0)
    assert next_delay(8, _result(500), rng=no_jitter) is None


def test_attempt_numbers_start_at_one() -> None:
    with pytest.raises(ValueError):
        next_delay(0, _result(500))
