"""Reading the delivery log: deliveries of a tenant with their attempts, newest first.

A page costs a fixed number of statements whatever its size: the deliveries (with endpoint and
event joined), then all their attempts in one query. Erasing a member reaches the log too
(:func:`erase_member_from_log`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from tortoise.queryset import QuerySet

from engine.pagination import Page, id_page
from engine.privacy import ErasedMember
from engine.text import filter_text
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery

# Column widths: a longer filter could never match (and PostgreSQL refuses to compare it).
EVENT_TYPE_MAX = 64
EVENT_ID_MAX = 40


@dataclass(frozen=True)
class DeliveryFilter:
    endpoint_id: int | None = None
    status: DeliveryStatus | None = None
    event_type: str | None = None
    event_public_id: str | None = None


@dataclass
class LoggedDelivery:
    row: WebhookDelivery
    attempts: list[WebhookAttempt] = field(default_factory=list)


def _query(where: DeliveryFilter) -> QuerySet[WebhookDelivery]:
    query = WebhookDelivery.all()
    if where.endpoint_id is not None:
        query = query.filter(endpoint_id=where.endpoint_id)
    if where.status is not None:
        query = query.filter(status=where.status)
    if where.event_type is not None:
        event_type = filter_text(where.event_type, field="eventType", max_len=EVENT_TYPE_MAX)
        query = query.filter(event_type=event_type or "")
    if where.event_public_id is not None:
        public_id = filter_text(where.event_public_id, field="eventId", max_len=EVENT_ID_MAX)
        query = query.filter(event__public_id=public_id or "")
    return query


async def attempts_of(delivery_ids: list[int]) -> dict[int, list[WebhookAttempt]]:
    by_delivery: dict[int, list[WebhookAttempt]] = defaultdict(list)
    if delivery_ids:
        for attempt in await WebhookAttempt.filter(delivery_id__in=delivery_ids).order_by(
            "delivery_id", "attempt_number", "id"
        ):
            by_delivery[attempt.delivery_id].append(attempt)
    return by_delivery


async def list_deliveries(
    where: DeliveryFilter, first: int | None, after: str | None
) -> Page[LoggedDelivery]:
    query = _query(where)
    page = await id_page(query.select_related("endpoint", "event"), first, after)
    attempts = await attempts_of([row.id for row in page.items])
    logged = [LoggedDelivery(row, attempts.get(row.id, [])) for row in page.items]
    return Page(logged, page.cursors, page.has_next_page, page.has_previous_page)


async def count_deliveries(where: DeliveryFilter) -> int:
    return await _query(where).count()


async def get_deliveries(delivery_ids: list[int]) -> list[LoggedDelivery]:
    """Deliveries by id in the tenant in scope (missing ones are left out)."""
    rows = await WebhookDelivery.filter(id__in=delivery_ids).select_related("endpoint", "event")
    attempts = await attempts_of([row.id for row in rows])
    return [LoggedDelivery(row, attempts.get(row.id, [])) for row in rows]


REMOVED = "[removed]"


async def erase_member_from_log(erased: ErasedMember) -> None:
    """Receivers' answers are logged as they came (``response_excerpt``) and can echo a member's
    email or customer id back: erasure removes them there as well (engine.privacy)."""
    for needle in (erased.email, erased.external_id):
        if not needle:
            continue
        for attempt in await WebhookAttempt.filter(response_excerpt__contains=needle):
            await WebhookAttempt.filter(id=attempt.id).update(
                response_excerpt=attempt.response_excerpt.replace(needle, REMOVED)
            )
