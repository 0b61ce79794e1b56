"""The statements every delivery attempt runs, written as SQL: load, claim, finish, and their
batch forms (claim N due deliveries, finish N attempts) used by webhooks.drain.

They run once per attempt of every delivery, so they skip the ORM's query building and model
instances (with them, about a third of a delivery's CPU went to building the same statements).
Each is one statement on PostgreSQL; SQLite claims and finishes in one short transaction.
Everything rarer (a 410, a failure run starting or ending) stays with the ORM in delivery.py.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import orjson
from tortoise import connections
from tortoise.fields import BigIntField, CharField, IntField, TextField
from tortoise.models import Model
from tortoise.transactions import in_transaction

from engine.models.events import DomainEvent
from engine.sql import Statement
from webhooks.client import AttemptResult
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

_CLAIM = Statement(
    """
    UPDATE webhook_delivery
    SET attempt_count = :next_count, lease_token = :token, lease_until = :until, updated_at = :now
    WHERE id = :id AND status = 'PENDING' AND attempt_count = :count
      AND (lease_until IS NULL OR lease_until < :now)
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
# The joined row every attempt reads: the delivery, its endpoint, its event, its idea's freeze.
_JOINS = """
    JOIN webhook_endpoint e ON e.id = d.endpoint_id
    JOIN domain_event v ON v.id = d.event_id
    LEFT JOIN idea i ON i.id = d.idea_id
"""
_COLUMNS = ", ".join(
    [f"d.{f} AS d_{f}" for f in _DELIVERY]
    + [f"e.{f} AS e_{f}" for f in _ENDPOINT]
    + [f"v.{f} AS v_{f}" for f in _EVENT]
    + ["i.frozen AS i_frozen"]
)
_LOAD = Statement(f"SELECT {_COLUMNS} FROM webhook_delivery d {_JOINS} WHERE d.id = :id")
_ATTEMPT_COLUMNS = (
    "tenant_id, delivery_id, attempt_number, started_at, duration_ms, outcome, status_code,"
    " response_excerpt, error, remote_ip"
)


# Fields whose database value is already the Python value on both backends (no conversion).
_PLAIN_FIELDS = (IntField, BigIntField, CharField, TextField)
_Reader = tuple[tuple[str, str, Callable[[Any], Any] | None], ...]


@cache
def _reader(model: type[Model], alias: str, names: tuple[str, ...]) -> _Reader:
    """(attribute, column, conversion) per field, worked out once per process: looking the field
    up and converting plain integers and strings per row was a tenth of the batch path's CPU."""
    fields = model._meta.fields_map
    return tuple(
        (
            name,
            f"{alias}_{name}",
            None
            if type(fields[name]) in _PLAIN_FIELDS  # subclasses (sealed secrets) convert
            else fields[name].to_python_value,
        )
        for name in names
    )


def _python(model: type[Model], row: Any, alias: str, names: tuple[str, ...]) -> dict[str, Any]:
    """Database values as the model's fields read them (datetimes, JSON, enums, booleans)."""
    return {
        name: row[column] if convert is None else convert(row[column])
        for name, column, convert in _reader(model, alias, names)
    }


async def load(delivery_id: int) -> Delivery | None:
    """The delivery with its endpoint and event, in one joined query."""
    _, rows = await _LOAD.execute(connections.get("default"), id=delivery_id)
    if not rows:
        return None
    return _delivery(rows[0])


# The endpoints and events one statement's rows have read so far, by id.
_Shared = tuple[dict[int, Endpoint], dict[int, Event]]


def _delivery(row: Any, shared: _Shared | None = None) -> Delivery:
    """``shared``: the endpoints and events already read by this statement, by id. Rows of one
    statement read one snapshot, so an endpoint's columns (its sealed secrets opened once) and an
    event's (its JSON decoded once) are the same on each of its rows."""
    endpoints, events = shared if shared is not None else ({}, {})
    endpoint = endpoints.get(row["e_id"])
    if endpoint is None:
        endpoint = endpoints[row["e_id"]] = Endpoint(
            **_python(WebhookEndpoint, row, "e", _ENDPOINT)
        )
    event = events.get(row["v_id"])
    if event is None:
        event = events[row["v_id"]] = Event(**_python(DomainEvent, row, "v", _EVENT))
    return Delivery(
        **_python(WebhookDelivery, row, "d", _DELIVERY),
        endpoint=endpoint,
        event=event,
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


@dataclass(frozen=True)
class Finished:
    """One attempt, sent, ready to be written: the row's new state and its log line."""

    delivery: Delivery
    token: str
    finish: Finish
    result: AttemptResult


class Written(enum.Enum):
    OWNED = "owned"  # the lease was still ours: state written, attempt logged
    LOST = "lost"  # another worker owns the row now: attempt logged, state left alone
    DELETED = "deleted"  # the delivery is gone (its endpoint was deleted), its log with it


# One statement finishes any number of attempts, each fenced by its own lease token: the rows
# travel as one JSON array parameter (no limit on parameters, one plan per dialect).
_FINISH_COLUMNS = (
    "id bigint, token varchar, status varchar, next_at timestamptz, code integer, error varchar,"
    " completed timestamptz, number integer, started timestamptz, duration double precision,"
    " outcome varchar, excerpt text, ip varchar, now timestamptz"
)
_FINISH_PG = Statement(
    f"""
    WITH i AS (SELECT * FROM jsonb_to_recordset(:rows::jsonb) AS i({_FINISH_COLUMNS})),
    owned AS (
        UPDATE webhook_delivery d
        SET status = i.status, next_attempt_at = i.next_at, lease_token = NULL,
            lease_until = NULL, last_status_code = i.code, last_error = i.error,
            updated_at = i.now, completed_at = i.completed
        FROM i WHERE d.id = i.id AND d.lease_token = i.token
        RETURNING d.id
    ),
    logged AS (
        INSERT INTO webhook_attempt ({_ATTEMPT_COLUMNS})
        SELECT d.tenant_id, i.id, i.number, i.started, i.duration, i.outcome, i.code, i.excerpt,
            i.error, i.ip
        FROM i JOIN webhook_delivery d ON d.id = i.id
        RETURNING delivery_id
    )
    SELECT i.id, EXISTS (SELECT 1 FROM owned o WHERE o.id = i.id) AS owned,
        EXISTS (SELECT 1 FROM logged l WHERE l.delivery_id = i.id) AS logged
    FROM i
    """
)


def _field(name: str) -> str:
    return f"i.value ->> '{name}'"


_RELEASE_SQLITE = Statement(
    f"""
    UPDATE webhook_delivery
    SET status = {_field("status")}, next_attempt_at = {_field("next_at")}, lease_token = NULL,
        lease_until = NULL, last_status_code = {_field("code")}, last_error = {_field("error")},
        updated_at = {_field("now")}, completed_at = {_field("completed")}
    FROM json_each(:rows) AS i
    WHERE webhook_delivery.id = {_field("id")} AND webhook_delivery.lease_token = {_field("token")}
    RETURNING webhook_delivery.id
    """
)
_ATTEMPTS_SQLITE = Statement(
    f"""
    INSERT INTO webhook_attempt ({_ATTEMPT_COLUMNS})
    SELECT d.tenant_id, d.id, {_field("number")}, {_field("started")}, {_field("duration")},
        {_field("outcome")}, {_field("code")}, {_field("excerpt")}, {_field("error")},
        {_field("ip")}
    FROM json_each(:rows) AS i JOIN webhook_delivery d ON d.id = {_field("id")}
    RETURNING delivery_id
    """
)


def _stamp(value: datetime | None, postgres: bool) -> str | None:
    """As each backend stores a timestamp (SQLite compares them as text)."""
    if value is None:
        return None
    return value.isoformat() if postgres else value.isoformat(" ")


def _json_row(item: Finished, postgres: bool) -> dict[str, Any]:
    finish, result = item.finish, item.result
    return {
        "id": item.delivery.id,
        "token": item.token,
        "status": finish.status.value,
        "next_at": _stamp(finish.next_attempt_at, postgres),
        "code": result.status_code,
        "error": result.error,
        "completed": None
        if finish.status is DeliveryStatus.PENDING
        else _stamp(finish.now, postgres),
        "number": finish.attempt_number,
        "started": _stamp(finish.started_at, postgres),
        "duration": round(result.duration_ms, 3),
        "outcome": result.outcome.value,
        # PostgreSQL text cannot hold NUL; a receiver's binary answer may.
        "excerpt": result.response_excerpt.replace("\x00", "\ufffd"),
        "ip": result.remote_ip,
        "now": _stamp(finish.now, postgres),
    }


async def finish_many(
    items: Sequence[Finished], connection: Any | None = None
) -> dict[int, Written]:
    """Release the leases still held and log every attempt, in one statement (SQLite: two, in
    one transaction). ``connection``: the caller's transaction, when it writes more with it."""
    if not items:
        return {}
    client = connection or connections.get("default")
    postgres = client.capabilities.dialect == "postgres"
    rows = orjson.dumps([_json_row(item, postgres) for item in items]).decode()
    if postgres:
        _, result = await _FINISH_PG.execute(client, rows=rows)
        owned = {int(r["id"]) for r in result if r["owned"]}
        logged = {int(r["id"]) for r in result if r["logged"]}
    elif connection is not None:
        owned, logged = await _finish_sqlite(connection, rows)
    else:
        async with in_transaction() as transaction:
            owned, logged = await _finish_sqlite(transaction, rows)
    return {
        item.delivery.id: Written.OWNED
        if item.delivery.id in owned
        else Written.LOST
        if item.delivery.id in logged
        else Written.DELETED
        for item in items
    }


async def _finish_sqlite(connection: Any, rows: str) -> tuple[set[int], set[int]]:
    _, released = await _RELEASE_SQLITE.execute(connection, rows=rows)
    _, logged = await _ATTEMPTS_SQLITE.execute(connection, rows=rows)
    return {int(r["id"]) for r in released}, {int(r["delivery_id"]) for r in logged}


# -- claiming due deliveries in batches -----------------------------------------------------------

_DUE = (
    "d.status = 'PENDING' AND d.next_attempt_at <= :now"
    " AND (d.lease_until IS NULL OR d.lease_until < :now)"
)
# PostgreSQL: lock the most overdue due rows nobody is claiming (SKIP LOCKED), take them with one
# lease token, and return them with what each attempt needs, as the rows read before the claim
# (attempt_count, lease_until and updated_at as they were: a lease that ran out is a lost attempt).
_CLAIM_MANY_PG = Statement(
    f"""
    WITH due AS (
        SELECT d.id, d.lease_until AS was_until, d.updated_at AS was_updated
        FROM webhook_delivery d WHERE {_DUE}
        ORDER BY d.next_attempt_at, d.id LIMIT :limit FOR UPDATE SKIP LOCKED
    ),
    d AS (
        UPDATE webhook_delivery w
        SET attempt_count = w.attempt_count + 1, lease_token = :token, lease_until = :until,
            updated_at = :now
        FROM due WHERE w.id = due.id
        RETURNING w.id, w.tenant_id, w.status, w.attempt_count - 1 AS attempt_count,
            w.schedule_base, w.next_attempt_at, due.was_until AS lease_until,
            due.was_updated AS updated_at, w.endpoint_id, w.event_id, w.idea_id
    )
    SELECT {_COLUMNS}
    FROM d {_JOINS}
    ORDER BY d.next_attempt_at, d.id
    """
)
# SQLite runs one writer at a time: read the due rows, then take them, in one transaction.
_DUE_SQLITE = Statement(
    f"""
    SELECT {_COLUMNS}
    FROM webhook_delivery d {_JOINS}
    WHERE {_DUE}
    ORDER BY d.next_attempt_at, d.id LIMIT :limit
    """
)
_CLAIM_SQLITE = Statement(
    """
    UPDATE webhook_delivery
    SET attempt_count = attempt_count + 1, lease_token = :token, lease_until = :until,
        updated_at = :now
    WHERE id IN (SELECT value FROM json_each(:ids)) AND status = 'PENDING'
      AND (lease_until IS NULL OR lease_until < :now)
    RETURNING id
    """
)


async def claim_many(limit: int, token: str, now: datetime, until: datetime) -> list[Delivery]:
    """Take the next attempt of up to ``limit`` due deliveries, most overdue first, under one
    lease ``token``; each comes back as ``load`` would have read it just before the claim."""
    client = connections.get("default")
    if client.capabilities.dialect == "postgres":
        _, rows = await _CLAIM_MANY_PG.execute(
            client, limit=limit, token=token, until=until, now=now
        )
        shared: _Shared = ({}, {})
        return [_delivery(row, shared) for row in rows]
    async with in_transaction() as transaction:
        _, rows = await _DUE_SQLITE.execute(transaction, limit=limit, now=now)
        if not rows:
            return []
        ids = orjson.dumps([row["d_id"] for row in rows]).decode()
        _, taken = await _CLAIM_SQLITE.execute(
            transaction, ids=ids, token=token, until=until, now=now
        )
    won = {int(row["id"]) for row in taken}
    read: _Shared = ({}, {})
    return [_delivery(row, read) for row in rows if int(row["d_id"]) in won]
