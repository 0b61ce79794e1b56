"""The statements every delivery attempt runs, written as SQL: load, claim, finish.

They run once per attempt of every delivery, so they skip the ORM's query building and model
instances (with them, about a third of a delivery's CPU went to building the same three
statements). Each is one statement on PostgreSQL; SQLite finishes in one short transaction.
Everything rarer (a 410, a failure run starting or ending) stays with the ORM in delivery.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise import connections
from tortoise.models import Model
from tortoise.transactions import in_transaction

from engine.models.events import DomainEvent
from webhooks.client import AttemptResult
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

_NAME = re.compile(r":([a-z_]+)(::[a-z ]+)?")


class Statement:
    """SQL with ``:name`` parameters, rendered for the dialect in use ($n or ?)."""

    def __init__(self, template: str) -> None:
        self.template = " ".join(template.split())
        self._rendered: dict[str, tuple[str, list[str]]] = {}

    def _render(self, dialect: str) -> tuple[str, list[str]]:
        if dialect not in self._rendered:
            order: list[str] = []

            def place(match: re.Match[str]) -> str:
                name, cast = match.group(1), match.group(2) or ""
                if dialect == "postgres":
                    if name not in order:
                        order.append(name)
                    return f"${order.index(name) + 1}{cast}"
                order.append(name)  # SQLite: one ? per occurrence, casts are PostgreSQL's
                return "?"

            self._rendered[dialect] = (_NAME.sub(place, self.template), order)
        return self._rendered[dialect]

    async def execute(self, client: Any, **params: Any) -> tuple[int, list[Any]]:
        sql, order = self._render(client.capabilities.dialect)
        count, rows = await client.execute_query(sql, [params[name] for name in order])
        return count, list(rows)


_CLAIM = Statement(
    """
    UPDATE webhook_delivery
    SET attempt_count = :next_count, lease_token = :token, lease_until = :until, updated_at = :now
    WHERE id = :id AND status = 'PENDING' AND attempt_count = :count
      AND (lease_until IS NULL OR lease_until < :now)
    """
)

_RELEASE = """
    UPDATE webhook_delivery
    SET status = :status, next_attempt_at = :next_at, lease_token = NULL, lease_until = NULL,
        last_status_code = :code, last_error = :error, updated_at = :now, completed_at = :completed
    WHERE id = :id AND lease_token = :token
"""
_ATTEMPT_COLUMNS = (
    "tenant_id, delivery_id, attempt_number, started_at, duration_ms, outcome, status_code,"
    " response_excerpt, error, remote_ip"
)
# PostgreSQL: release the lease and log the attempt in one statement, only if we held the lease.
_FINISH_PG = Statement(
    f"""
    WITH owned AS ({_RELEASE} RETURNING id, tenant_id)
    INSERT INTO webhook_attempt ({_ATTEMPT_COLUMNS})
    SELECT tenant_id, id, :number::integer, :started::timestamptz, :duration::double precision,
        :outcome::varchar, :code::integer, :excerpt::text, :error::varchar, :ip::varchar
    FROM owned
    RETURNING id
    """
)
_RELEASE_ONLY = Statement(_RELEASE)
_ATTEMPT_SQLITE = Statement(
    f"""
    INSERT INTO webhook_attempt ({_ATTEMPT_COLUMNS})
    VALUES (:tenant, :id, :number, :started, :duration, :outcome, :code, :excerpt, :error, :ip)
    """
)


@dataclass(frozen=True)
class Endpoint:
    """What an attempt needs of its endpoint (duck-compatible with the model where it is used)."""

    id: int
    url: str
    description: str
    enabled: bool
    include_emails: bool
    preset: str
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: datetime | None
    failing_since: datetime | None
    last_success_at: datetime | None


@dataclass(frozen=True)
class Event:
    id: int
    public_id: str
    type: str
    occurred_at: datetime
    data: dict[str, Any]
    # The API request that recorded the event (logs only).
    request_id: str | None = None


@dataclass(frozen=True)
class Delivery:
    id: int
    tenant_id: int
    status: DeliveryStatus
    attempt_count: int
    schedule_base: int
    next_attempt_at: datetime | None
    lease_until: datetime | None
    updated_at: datetime
    endpoint: Endpoint
    event: Event
    # The event's idea is frozen by an IP report: its webhooks are held (engine.moderation).
    idea_frozen: bool = False


_DELIVERY = (
    "id",
    "tenant_id",
    "status",
    "attempt_count",
    "schedule_base",
    "next_attempt_at",
    "lease_until",
    "updated_at",
)
_ENDPOINT = (
    "id",
    "url",
    "description",
    "enabled",
    "include_emails",
    "preset",
    "secret",
    "previous_secret",
    "previous_secret_expires_at",
    "failing_since",
    "last_success_at",
)
_EVENT = ("id", "public_id", "type", "occurred_at", "data", "request_id")
_LOAD = Statement(
    "SELECT "
    + ", ".join(
        [f"d.{f} AS d_{f}" for f in _DELIVERY]
        + [f"e.{f} AS e_{f}" for f in _ENDPOINT]
        + [f"v.{f} AS v_{f}" for f in _EVENT]
        + ["i.frozen AS i_frozen"]
    )
    + """
    FROM webhook_delivery d
    JOIN webhook_endpoint e ON e.id = d.endpoint_id
    JOIN domain_event v ON v.id = d.event_id
    LEFT JOIN idea i ON i.id = d.idea_id
    WHERE d.id = :id
    """
)


def _python(model: type[Model], row: Any, alias: str, names: tuple[str, ...]) -> dict[str, Any]:
    """Database values as the model's fields read them (datetimes, JSON, enums, booleans)."""
    fields = model._meta.fields_map
    return {name: fields[name].to_python_value(row[f"{alias}_{name}"]) for name in names}


async def load(delivery_id: int) -> Delivery | None:
    """The delivery with its endpoint and event, in one joined query."""
    _, rows = await _LOAD.execute(connections.get("default"), id=delivery_id)
    if not rows:
        return None
    row = rows[0]
    return Delivery(
        **_python(WebhookDelivery, row, "d", _DELIVERY),
        endpoint=Endpoint(**_python(WebhookEndpoint, row, "e", _ENDPOINT)),
        event=Event(**_python(DomainEvent, row, "v", _EVENT)),
        idea_frozen=bool(row["i_frozen"]),
    )


async def claim(delivery: Delivery, token: str, now: datetime, until: datetime) -> bool:
    """Take the next attempt if nobody did since ``delivery`` was read (compare-and-set)."""
    count, _ = await _CLAIM.execute(
        connections.get("default"),
        id=delivery.id,
        count=delivery.attempt_count,
        next_count=delivery.attempt_count + 1,
        token=token,
        until=until,
        now=now,
    )
    return count == 1


@dataclass(frozen=True)
class Finish:
    status: DeliveryStatus
    next_attempt_at: datetime | None
    attempt_number: int
    started_at: datetime
    now: datetime


def _params(
    delivery: Delivery, token: str, finish: Finish, result: AttemptResult
) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "tenant": delivery.tenant_id,
        "token": token,
        "status": finish.status.value,
        "next_at": finish.next_attempt_at,
        "code": result.status_code,
        # PostgreSQL text cannot hold NUL; a receiver's binary answer may.
        "excerpt": result.response_excerpt.replace("\x00", "\ufffd"),
        "error": result.error,
        "now": finish.now,
        "completed": None if finish.status is DeliveryStatus.PENDING else finish.now,
        "number": finish.attempt_number,
        "started": finish.started_at,
        "duration": round(result.duration_ms, 3),
        "outcome": result.outcome.value,
        "ip": result.remote_ip,
    }


async def finish(delivery: Delivery, token: str, finish: Finish, result: AttemptResult) -> bool:
    """Release the lease and log the attempt, atomically; False when the lease was lost."""
    params = _params(delivery, token, finish, result)
    client = connections.get("default")
    if client.capabilities.dialect == "postgres":
        count, _ = await _FINISH_PG.execute(client, **params)
        return count == 1
    async with in_transaction() as connection:
        count, _ = await _RELEASE_ONLY.execute(connection, **params)
        if count == 1:
            await _ATTEMPT_SQLITE.execute(connection, **params)
    return count == 1


async def release_in(
    connection: Any, delivery: Delivery, token: str, finish: Finish, result: AttemptResult
) -> bool:
    """The release alone, in the caller's transaction (the caller logs the attempt itself)."""
    count, _ = await _RELEASE_ONLY.execute(connection, **_params(delivery, token, finish, result))
    return count == 1
