"""When to try a failed delivery again: Svix's schedule, held as data.

The caller stores ``now + next_delay(...)`` as the delivery's ``next_attempt_at``; the schedule
lives in the database, not in arq's retry counter (arq jobs expire after a day).
"""

from __future__ import annotations

import random

from webhooks.client import AttemptResult, Outcome

# Delay before attempt n+1, indexed by n: attempt 1 goes out at once, attempt 8 is the last.
SCHEDULE: tuple[float, ...] = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
MAX_ATTEMPTS = len(SCHEDULE)
JITTER = 0.2
# Timeouts and 429 mean the receiver is struggling; hammering it 5 s later would not help.
THROTTLED_MIN_DELAY = 60.0

_default_rng = random.Random()


def next_delay(
    attempt_number: int,
    result: AttemptResult,
    *,
    scale: float = 1.0,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds to wait after attempt ``attempt_number`` (1-based) failed with ``result``.

    None means there is no further attempt: the result was not a RETRY (success or 410) or the
    schedule is exhausted. ``Retry-After`` is honoured within 1-2x the scheduled delay and clamped
    into that window otherwise, so a receiver can slow us down but neither stall nor rush us.
    ``scale`` (``COSOURCE_WEBHOOK_SCHEDULE_SCALE``) compresses every delay, e.g. 0.001 in tests.
    """
    if attempt_number < 1:
        raise ValueError("attempt numbers start at 1")
    if result.outcome is not Outcome.RETRY or attempt_number >= MAX_ATTEMPTS:
        return None
    delay = SCHEDULE[attempt_number] * (rng or _default_rng).uniform(1 - JITTER, 1 + JITTER)
    if result.status_code == 429 or result.is_timeout:
        delay = max(delay, THROTTLED_MIN_DELAY)
    if result.retry_after_seconds is not None:
        delay = min(max(result.retry_after_seconds, delay), 2 * delay)
    return delay * scale
