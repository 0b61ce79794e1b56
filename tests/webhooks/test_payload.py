"""Bodies: the Standard Webhooks envelope, and emails only where the endpoint allows them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from runtime import redis_keys
from webhooks import payload

DATA: dict[str, Any] = {
    "idea": {"author": {"externalId": "cus_1", "email": "a@example.com"}},
    "supporters": [{"externalId": "cus_2", "email": "b@example.com"}, {"externalId": "cus_3"}],
    "emailCount": 2,
}
WHEN = datetime(2026, 11, 27, 10, 0, 0, 123000, tzinfo=UTC)


def test_emails_are_stripped_at_any_depth_unless_allowed() -> None:
    stripped = orjson.loads(
        payload.render("idea.threshold_reached", WHEN, DATA, include_emails=False)
    )
    assert stripped == {
        "type": "idea.threshold_reached",
        "timestamp": "2026-11-27T10:00:00.123Z",
        "data": {
            "idea": {"author": {"externalId": "cus_1"}},
            "supporters": [{"externalId": "cus_2"}, {"externalId": "cus_3"}],
            "emailCount": 2,
        },
    }
    kept = orjson.loads(payload.render("idea.threshold_reached", WHEN, DATA, include_emails=True))
    assert kept["data"] == DATA
    assert "email" in DATA["supporters"][0]  # the event's own data is never modified


def test_job_ids_and_cron_names_carry_the_redis_prefix(webhook_settings) -> None:
    # arq keeps job ids (and cron names, which are job ids) in one global namespace.
    webhook_settings(redis_prefix="brand-x")
    job_id, defer_by = redis_keys.drain_wake(0.5)
    assert job_id.startswith("brand-x:drain:") and 0.5 <= defer_by <= 0.6 + 1e-9
    assert redis_keys.cron_name("sweep") == "brand-x:cron:sweep"
    assert redis_keys.queue_name() == "brand-x:queue"
