"""The request body of a delivery: the event as the Standard Webhooks envelope, per endpoint.

Rendered at send time from the event row, so every retry sends the same bytes (the timestamp in
the body is the event's), and an endpoint that may not see emails never gets them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from engine.clock import iso
from webhooks import presets
from webhooks.models import PayloadPreset

# Bodies stay under 20 kB (docs/architecture.md, "Webhooks"; payloads are built to fit, see
# engine.thresholds).
MAX_BODY_BYTES = 20_000


def strip_emails(value: Any) -> Any:
    """A copy of ``value`` without any ``email`` key, at any depth."""
    if isinstance(value, dict):
        return {k: strip_emails(v) for k, v in value.items() if k != "email"}
    if isinstance(value, list):
        return [strip_emails(v) for v in value]
    return value


def envelope(
    event_type: str,
    occurred_at: datetime,
    data: dict[str, Any],
    *,
    include_emails: bool,
    preset: PayloadPreset | str = PayloadPreset.STANDARD,
) -> dict[str, Any]:
    visible = data if include_emails else strip_emails(data)
    mark, shaped = presets.shape(preset, event_type, visible)
    body: dict[str, Any] = {"type": event_type, "timestamp": iso(occurred_at)}
    if mark is not None:
        body["preset"] = mark
    body["data"] = shaped
    return body


def render(
    event_type: str,
    occurred_at: datetime,
    data: dict[str, Any],
    *,
    include_emails: bool,
    preset: PayloadPreset | str = PayloadPreset.STANDARD,
) -> bytes:
    return orjson.dumps(
        envelope(event_type, occurred_at, data, include_emails=include_emails, preset=preset)
    )
