"""Payload presets: STANDARD, COMMERCE_PREORDER and CRM_CONTACTS bodies, each validated against the
JSON Schema checked in under tests/schemas, still signed, still under 20 kB."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator
from standardwebhooks.webhooks import Webhook

from engine import campaigns, merges, moderation, pledges, votes
from engine.clock import utcnow
from engine.events import WEBHOOK_EVENT_TYPES, EventType
from engine.ideas import set_idea_status
from engine.models import CampaignStatus, DomainEvent, IdeaStatus, Member, ThresholdMetric
from engine.models.moderation import FlagReason
from engine.thresholds import ThresholdSpec
from engine.votes import VoteValue
from tests import factories
from tests.engine.reputation.support import process_pending
from tests.webhooks.receiver import Receiver
from tests.webhooks.scenario import InProcessBackground, endpoint_for
from webhooks import payload, presets
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


async def test_events_a_preset_does_not_shape_keep_the_standard_shape(tenant) -> None:
    await factories.campaign()
    opened = await DomainEvent.get(type=EventType.CAMPAIGN_OPENED)
    for preset in PayloadPreset:
        body = valid(PayloadPreset.STANDARD, _body(opened, preset))
        assert body["data"]["campaign"]["status"] == "OPEN"
        # Marked, so a receiver configured for a preset can tell the body apart.
        assert body.get("preset") == (None if preset == PayloadPreset.STANDARD else "STANDARD")


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


async def every_webhook_event() -> dict[str, DomainEvent]:
    """One real event of each type a preset shapes (and of some it does not), from one story: a
    crossing, a merge, a flag, an answer, levels and badges, a campaign closing with winners."""
    spec = ThresholdSpec(ThresholdMetric.PLEDGED_QUANTITY, 3, name="Pre-order run")
    campaign = await factories.campaign(
        thresholds=(spec,), title="Winter Blends", winner_count=2, winner_min_count=1
    )
    author = await factories.member(display_name="Ana Author")
    idea = await factories.idea(author, campaign, title="Oat-milk cold brew", body="In cans.")
    fan, buyer, voter, other = await factories.members(4)
    twin = await factories.idea(other, campaign, title="Oat cold brew in cans")
    await votes.cast_vote(fan, idea.id, VoteValue.UP)
    await votes.cast_vote(voter, idea.id, VoteValue.UP)
    await pledges.pledge(fan, idea.id, 2)
    await pledges.pledge(buyer, idea.id, 1)
    await process_pending()  # the author reaches level 1 (may flag) and earns badges
    await moderation.flag(await Member.get(id=author.id), twin.id, FlagReason.DUPLICATE)
    await merges.merge_ideas(twin.id, idea.id)
    await set_idea_status(idea.id, IdeaStatus.ACCEPTED, "We are brewing a first batch.")
    await campaigns.set_campaign_status(campaign.id, CampaignStatus.CLOSED)
    await process_pending()
    found: dict[str, DomainEvent] = {}
    for event in await DomainEvent.filter(type__in=list(WEBHOOK_EVENT_TYPES)).order_by("id"):
        found.setdefault(event.type, event)
    return found


async def test_every_event_type_gets_its_preset_or_the_marked_standard_body(tenant) -> None:
    found = await every_webhook_event()
    shaped = {t for preset in presets.SHAPED.values() for t in preset}
    assert shaped <= set(found), shaped - set(found)
    # Types no test story produces carry their documented STANDARD data.
    found.setdefault(
        "webhook.test",
        DomainEvent(type="webhook.test", occurred_at=utcnow(), data={"message": "hi"}),
    )
    for event in found.values():
        for preset in (PayloadPreset.COMMERCE_PREORDER, PayloadPreset.CRM_CONTACTS):
            for emails in (True, False):
                body = _body(event, preset, emails=emails)
                if event.type in presets.SHAPED[preset]:
                    assert body["preset"] == preset.value, (event.type, preset)
                    valid(preset, body)
                else:
                    assert body["preset"] == "STANDARD", (event.type, preset)
                    assert body["data"] == (
                        event.data if emails else payload.strip_emails(event.data)
                    )
                    valid(PayloadPreset.STANDARD, body)
                assert emails or "email" not in orjson.dumps(body).decode()
        assert "preset" not in _body(event, PayloadPreset.STANDARD)


async def test_presets_carry_what_a_store_and_a_crm_act_on(tenant) -> None:
    found = await every_webhook_event()
    shop = PayloadPreset.COMMERCE_PREORDER
    crm = PayloadPreset.CRM_CONTACTS

    created = _body(found["idea.created"], shop)["data"]
    assert (created["action"], created["product"]["title"]) == ("draft", "Oat-milk cold brew")
    assert _body(found["idea.threshold_reached"], shop)["data"]["action"] == "open_preorder"
    merged = _body(found["idea.merged"], shop)["data"]
    assert merged["action"] == "merge"
    assert merged["product"]["title"] == "Oat cold brew in cans"
    assert merged["mergedInto"]["title"] == "Oat-milk cold brew"
    changed = _body(found["idea.status_changed"], shop)["data"]
    assert (
        changed["action"] == "update" and "cosource-status-accepted" in changed["product"]["tags"]
    )
    closed = _body(found["campaign.closed"], shop)["data"]
    assert closed["action"] == "winners"
    assert closed["products"][0]["product"]["title"] == "Oat-milk cold brew"
    assert closed["products"][0]["preorder"] == {"totalQuantity": 3, "customers": 2}

    answered = _body(found["idea.responded"], crm)["data"]["contacts"]
    assert [c["externalId"] for c in answered] == [
        found["idea.created"].data["idea"]["author"]["externalId"]
    ]
    assert answered[0]["email"]  # idea.responded carries the author's email
    assert answered[0]["properties"]["cosourceResponseNote"] == "We are brewing a first batch."
    winners = _body(found["campaign.closed"], crm)["data"]
    assert winners["campaign"]["title"] == "Winter Blends"
    assert winners["contacts"][0]["properties"]["cosourceWinnerRank"] == 1
    assert winners["contacts"][0]["tags"] == ["cosource-winner-" + winners["campaign"]["slug"]]
    level = _body(found["member.level_changed"], crm)["data"]["contacts"]
    assert (
        level[0]["properties"]["cosourceLevel"]
        == found["member.level_changed"].data["level"]["number"]
    )
    assert level[0]["email"] and level[0]["tags"][0].startswith("cosource-level-")
    badge = _body(found["member.badge_awarded"], crm)["data"]["contacts"][0]
    assert (
        badge["properties"]["cosourceLastBadgeCode"]
        == (found["member.badge_awarded"].data["badge"]["code"])
    )
    # Email-less endpoints get the same contacts without emails.
    bare = _body(found["member.badge_awarded"], crm, emails=False)["data"]["contacts"][0]
    assert "email" not in bare and bare["externalId"] == badge["externalId"]


def test_readme_preset_examples_match_their_schemas() -> None:
    """The README's example bodies (one per event type and preset) are complete and valid."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("### Webhook payload presets", 1)[1].split("\n## ", 1)[0]
    bodies = [json.loads(b) for b in re.findall(r"```json\n(.*?)\n```", section, flags=re.S)]
    seen = set()
    for body in bodies:
        preset = PayloadPreset(body.get("preset", "STANDARD"))
        valid(preset, body)
        seen.add((preset, body["type"]))
    shaped = {(p, t) for p, types in presets.SHAPED.items() for t in types}
    assert shaped <= seen, shaped - seen
