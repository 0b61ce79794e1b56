"""Applying inbound webhooks: a paid order or an updated customer becomes a member upsert, once.

Both endpoints end here after their signature was verified (engine.integrations). Each webhook id
is applied at most once per tenant and kind: its receipt row is written in the transaction that
changes the member, so a replay (the sender retrying, or an attacker resending a captured request)
finds the receipt and changes nothing, even when two copies arrive at once.

Shopify (topics ``orders/paid`` and ``customers/update``): the member is the order's customer,
matched by external id = the Shopify customer id, created if new. ``orders/paid`` marks them a
verified customer. Lifetime value is the customer's ``total_spent`` when Shopify sends it; an order
without it adds the order's ``total_price`` (safe because the webhook applies once). Tier comes
from a customer tag ``tier:<name>``. Other topics are acknowledged and ignored.

Generic inbound (Standard Webhooks), documented in the README::

    {"type": "order.paid" | "customer.updated",
     "data": {"externalId": "...", "email": "...", "displayName": "...", "verified": true,
              "tier": "gold", "customerValueCents": 125000, "orderValueCents": 4900}}
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from engine import events, member_gate
from engine.errors import DomainError, ErrorCode, FieldError
from engine.members import MemberData, upsert_member
from engine.models.integrations import InboundReceipt, IntegrationKind
from engine.models.members import Member
from engine.text import NAME_MAX

SHOPIFY_ORDER_PAID = "orders/paid"
SHOPIFY_CUSTOMER_UPDATE = "customers/update"
ORDER_PAID = "order.paid"
CUSTOMER_UPDATED = "customer.updated"
_TIER_TAG = "tier:"
_MAX_CENTS = 10**15


class Status(str, Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # this webhook id was applied before: nothing changed
    IGNORED = "ignored"  # a topic or type that does not concern members


@dataclass(frozen=True)
class Result:
    status: Status
    member_id: int | None = None


@dataclass(frozen=True)
class _Change:
    data: MemberData
    # Added to the member's current value (an order without a lifetime total).
    add_cents: int = 0


def _invalid(field: str, message: str) -> DomainError:
    return DomainError(ErrorCode.INVALID, message, field)


def _cents(value: Any, field: str) -> int:
    """Shopify money is a decimal string in the shop's currency ("199.90")."""
    try:
        cents = (Decimal(str(value)) * 100).to_integral_value()
    except (InvalidOperation, ValueError) as exc:
        raise _invalid(field, f"{field} is not an amount") from exc
    if not 0 <= cents <= _MAX_CENTS:
        raise DomainError(ErrorCode.OUT_OF_RANGE, f"{field} is out of range", field)
    return int(cents)


def _tier(tags: Any) -> str | None:
    if not isinstance(tags, str):
        return None
    for tag in tags.split(","):
        tag = tag.strip()
        if tag.lower().startswith(_TIER_TAG) and tag[len(_TIER_TAG) :].strip():
            return tag[len(_TIER_TAG) :].strip()[:50]
    return None


def shopify_change(topic: str, payload: dict[str, Any]) -> _Change | None:
    """The member change a Shopify webhook asks for, or None when it concerns no customer."""
    if topic == SHOPIFY_ORDER_PAID:
        customer = payload.get("customer")
    elif topic == SHOPIFY_CUSTOMER_UPDATE:
        customer = payload
    else:
        return None
    if not isinstance(customer, dict) or customer.get("id") in (None, ""):
        return None  # a guest checkout: no customer to verify
    if not isinstance(customer["id"], int | str):
        raise _invalid("customer.id", "customer.id is not an id")
    name = " ".join(str(customer.get(k) or "").strip() for k in ("first_name", "last_name")).strip()
    email = customer.get("email")
    value = None
    add = 0
    if customer.get("total_spent") not in (None, ""):
        value = _cents(customer["total_spent"], "customer.total_spent")
    elif topic == SHOPIFY_ORDER_PAID and payload.get("total_price") not in (None, ""):
        add = _cents(payload["total_price"], "total_price")
    data = MemberData(
        external_id=str(customer["id"]),
        display_name=name[:NAME_MAX] or None,
        email=email.strip() if isinstance(email, str) and email.strip() else None,
        verified=True if topic == SHOPIFY_ORDER_PAID else None,
        tier=_tier(customer.get("tags")),
        customer_value_cents=value,
    )
    return _Change(data, add)


def _optional(data: dict[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    if value is None:
        return None
    # bool is an int in Python, never in JSON: true is not a value of 1 cent.
    ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
    if not ok:
        raise _invalid(f"data.{key}", f"data.{key} must be a {kind.__name__}")
    return value


def generic_change(payload: dict[str, Any]) -> _Change | None:
    """The documented inbound shape (module docstring); None for types that concern no member."""
    kind = payload.get("type")
    if kind not in (ORDER_PAID, CUSTOMER_UPDATED):
        return None
    data = payload.get("data")
    if not isinstance(data, dict):
        raise _invalid("data", "data must be an object")
    external_id = data.get("externalId")
    if isinstance(external_id, int) and not isinstance(external_id, bool):
        external_id = str(external_id)
    if not isinstance(external_id, str) or not external_id.strip():
        raise DomainError(ErrorCode.REQUIRED, "data.externalId is required", "data.externalId")
    value = _optional(data, "customerValueCents", int)
    order = _optional(data, "orderValueCents", int)
    errors = [
        FieldError(f"data.{k}", ErrorCode.OUT_OF_RANGE, f"data.{k} must be 0 or more")
        for k, v in (("customerValueCents", value), ("orderValueCents", order))
        if v is not None and not 0 <= v <= _MAX_CENTS
    ]
    if errors:
        raise DomainError.many(errors)
    verified = _optional(data, "verified", bool)
    return _Change(
        MemberData(
            external_id=external_id,
            display_name=_optional(data, "displayName", str),
            email=_optional(data, "email", str),
            verified=True if kind == ORDER_PAID and verified is None else verified,
            tier=_optional(data, "tier", str),
            customer_value_cents=value,
        ),
        add_cents=(order or 0) if value is None else 0,
    )


async def apply_once(
    kind: IntegrationKind, webhook_id: str, topic: str, change: _Change | None
) -> Result:
    """Apply ``change`` unless this webhook id was applied before (tenant in scope)."""
    if not webhook_id or len(webhook_id) > 200:
        raise _invalid("webhookId", "a webhook id (1-200 characters) is required")
    async with events.unit_of_work():
        try:
            async with in_transaction():  # a savepoint: the duplicate's error must not abort us
                receipt = await InboundReceipt.create(
                    kind=kind, webhook_id=webhook_id, topic=topic[:100]
                )
        except IntegrityError:
            return Result(Status.DUPLICATE)
        if change is None:
            return Result(Status.IGNORED)
        data = change.data
        if change.add_cents:
            external_id = data.external_id.strip()
            # The member's gate before their row, as every change of a value takes them
            # (engine.member_gate): a vote in flight holds the gate and may yet insert a row
            # whose foreign key waits for this row lock.
            found: list[Any] = await Member.filter(external_id=external_id).values_list(
                "id", flat=True
            )
            await member_gate.hold(int(i) for i in found)
            current = await Member.filter(external_id=external_id).select_for_update().first()
            base = current.customer_value_cents if current else 0
            data = MemberData(**{**data.__dict__, "customer_value_cents": base + change.add_cents})
        member = await upsert_member(data)
        receipt.member_id = member.id
        await receipt.save(update_fields=["member_id"])
    return Result(Status.APPLIED, member.id)
