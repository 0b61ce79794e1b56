"""Payload presets: STANDARD, COMMERCE_PREORDER and CRM_CONTACTS bodies, each validated against the
JSON Schema checked in under tests/schemas, still signed, still under 20 kB."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator
from standardwebhooks.webhooks import Webhook

from engine import pledges, votes
from engine.events import EventType
from engine.models import DomainEvent, ThresholdMetric
from engine.thresholds import ThresholdSpec
from engine.votes import VoteValue
from tests import factories
from tests.webhooks.receiver import Receiver
from tests.webhooks.scenario import InProcessBackground, endpoint_for
from webhooks import payload
from webhooks.models import PayloadPreset

SCHEMAS = Path(__file__).parent.parent / "schemas"


def validator(preset: PayloadPreset) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{preset.value.lower()}.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def valid(preset: PayloadPreset, body: dict[str, Any]) -> dict[str, Any]:
    errors = sorted(validator(preset).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
    return body


async def _crossing() -> tuple[DomainEvent, dict[str, Any]]:
    """A pre-order threshold crossed by two pledgers, one of whom also upvoted."""
    spec = ThresholdSpec(ThresholdMetric.PLEDGED_QUANTITY, 3, name="Pre-order run")
    campaign = await factories.campaign(thresholds=(spec,), title="Winter Blends")
    author = await factories.member(display_name="Ana Author")
    idea = await factories.idea(
        author, campaign, title="Oat-milk cold brew", body="In 250 ml cans."
    )
    fan, buyer, voter = await factories.members(3)
    await votes.cast_vote(fan, idea.id, VoteValue.UP)
    await votes.cast_vote(voter, idea.id, VoteValue.UP)
    await pledges.pledge(fan, idea.id, 2)
    await pledges.pledge(buyer, idea.id, 1)
    event = await DomainEvent.get(type=EventType.IDEA_THRESHOLD_REACHED)
    return event, {"fan": fan, "buyer": buyer, "voter": voter}


def _body(event: DomainEvent, preset: PayloadPreset, *, emails: bool = True) -> dict[str, Any]:
    raw = payload.render(
        event.type, event.occurred_at, event.data, include_emails=emails, preset=preset
    )
    assert len(raw) < 20_000
    return orjson.loads(raw)


async def test_each_preset_of_a_crossing_matches_its_schema(tenant) -> None:
    event, people = await _crossing()
    fan, buyer, voter = people["fan"], people["buyer"], people["voter"]
    standard = valid(PayloadPreset.STANDARD, _body(event, PayloadPreset.STANDARD))
    assert "preset" not in standard

    shop = valid(PayloadPreset.COMMERCE_PREORDER, _body(event, PayloadPreset.COMMERCE_PREORDER))
    assert shop["preset"] == "COMMERCE_PREORDER"
    product = shop["data"]["product"]
    assert (product["title"], product["description"]) == ("Oat-milk cold brew", "In 250 ml cans.")
    assert (
        product["tags"][0] == "cosource" and "cosource-threshold-pre-order-run" in product["tags"]
    )
    assert {
        (line["customer"]["externalId"], line["quantity"]) for line in shop["data"]["lines"]
    } == {
        (fan.external_id, 2),
        (buyer.external_id, 1),
    }
    assert shop["data"]["preorder"] == {"totalQuantity": 3, "customers": 2}
    assert shop["data"]["lines"][0]["customer"]["email"] == fan.email

    crm = valid(PayloadPreset.CRM_CONTACTS, _body(event, PayloadPreset.CRM_CONTACTS))
    contacts = {c["externalId"]: c for c in crm["data"]["contacts"]}
    assert set(contacts) == {fan.external_id, buyer.external_id, voter.external_id}  # once each
    assert contacts[fan.external_id]["tags"] == [
        "cosource-pledged",
        "cosource-supported-oat-milk-cold-brew",
    ]
    assert contacts[fan.external_id]["properties"]["cosourcePledgedQuantity"] == 2
    assert "cosourcePledgedQuantity" not in contacts[voter.external_id]["properties"]
    assert contacts[voter.external_id]["email"] == voter.email

    # Without the endpoint's permission no body carries an email, and each still validates.
    for preset in PayloadPreset:
        body = valid(preset, _body(event, preset, emails=False))
        assert "email" not in orjson.dumps(body).decode()


async def test_a_big_crossing_is_cut_under_20_kb_and_says_so(tenant) -> None:
    event, _ = await _crossing()
    person = {
        "id": "TWVtYmVyOjE=",
        "displayName": "A Long Customer Name " * 3,
        "email": "x" * 60 + "@example.com",
    }
    data = dict(event.data)
    data["pledges"] = [
        {**person, "externalId": f"cus_{n:06d}", "quantity": 1 + n % 5} for n in range(3000)
    ]
    data["supporters"] = [{**person, "externalId": f"cus_{n:06d}"} for n in range(3000)]
    data["pledgesTotal"] = data["supportersTotal"] = 3000
    for preset in (PayloadPreset.COMMERCE_PREORDER, PayloadPreset.CRM_CONTACTS):
        raw = payload.render(
            event.type, event.occurred_at, data, include_emails=True, preset=preset
        )
        assert len(raw) < 20_000
        body = valid(preset, orjson.loads(raw))
        assert body["data"]["truncated"] is True
        listed = body["data"]["lines" if preset == PayloadPreset.COMMERCE_PREORDER else "contacts"]
        assert 0 < len(listed) < 3000
    assert (
        orjson.loads(
            payload.render(
                event.type,
                event.occurred_at,
                data,
                include_emails=True,
                preset=PayloadPreset.COMMERCE_PREORDER,
            )
        )["data"]["linesTotal"]
        == 3000
    )


async def test_events_without_an_idea_keep_the_standard_shape(tenant) -> None:
    await factories.campaign()
    opened = await DomainEvent.get(type=EventType.CAMPAIGN_OPENED)
    for preset in PayloadPreset:
        body = valid(PayloadPreset.STANDARD, _body(opened, preset))
        assert body["data"]["campaign"]["status"] == "OPEN"


@pytest.mark.parametrize("preset", [PayloadPreset.COMMERCE_PREORDER, PayloadPreset.CRM_CONTACTS])
async def test_preset_bodies_arrive_signed(
    tenant, receiver: Receiver, background: InProcessBackground, preset: PayloadPreset
) -> None:
    created = await endpoint_for(receiver, f"/{preset.value}", preset=preset, include_emails=True)
    event, _ = await _crossing()
    await background.queue.drain()
    [request] = await receiver.wait_for_async(1)
    assert request.verified, request.verify_error
    Webhook(created.secret).verify(request.body, request.headers)
    assert request.headers["webhook-id"] == event.public_id
    valid(preset, request.json())
