"""exportMemberData and eraseMember: access to everything, erasure that keeps every count."""

from __future__ import annotations

import orjson

from api.types.ids import encode_id
from engine import comments, pledges, votes
from engine.clock import utcnow
from engine.events import EventType
from engine.models import Comment, DomainEvent, Idea, Member, ThresholdMetric
from engine.thresholds import ThresholdSpec
from engine.votes import VoteValue
from tests import factories
from tests.api.conftest import member_token
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint

EXPORT = (
    "mutation E($m: ID!) { exportMemberData(input: {memberId: $m}) { data userErrors { code } } }"
)
ERASE = "mutation X($m: ID!) { eraseMember(input: {memberId: $m}) { member { displayName } userErrors { code } } }"


async def _scene() -> tuple[Member, Idea, Idea]:
    author = await factories.member()
    ada = await factories.member(display_name="Ada Lovelace", email="ada@example.com", tier="gold")
    campaign = await factories.campaign(
        thresholds=(ThresholdSpec(ThresholdMetric.PLEDGERS, 1, name="Pre-order"),)
    )
    theirs = await factories.idea(author, campaign)
    mine = await factories.idea(ada, campaign, title="Ada's idea")
    await votes.cast_vote(ada, theirs.id, VoteValue.UP)
    await pledges.pledge(ada, theirs.id, 3)  # crosses the threshold: the payload lists Ada
    await comments.add_comment(ada, theirs.id, "Call me on 555-0100, Ada")
    return ada, theirs, mine


async def test_export_holds_everything_about_the_member(api, tenant) -> None:
    ada, theirs, _ = await _scene()
    data = (await api.data(EXPORT, {"m": encode_id("Member", ada.id)}, sk=tenant.secret_key))[
        "exportMemberData"
    ]["data"]
    assert data["member"]["email"] == "ada@example.com" and data["member"]["tier"] == "gold"
    assert [i["title"] for i in data["ideas"]] == ["Ada's idea"]
    assert data["votes"] == [
        {"ideaId": encode_id("Idea", theirs.id), "value": 1, "at": data["votes"][0]["at"]}
    ]
    assert data["pledges"][0]["quantity"] == 3
    assert data["comments"][0]["body"].startswith("Call me")
    assert isinstance(data["reputation"], list) and isinstance(data["badges"], list)


async def test_erase_removes_personal_data_and_keeps_the_counts(api, tenant) -> None:
    ada, theirs, mine = await _scene()
    before = await Idea.get(id=theirs.id)
    crossing = await DomainEvent.get(type=EventType.IDEA_THRESHOLD_REACHED, idea_id=theirs.id)
    assert "ada@example.com" in orjson.dumps(crossing.data).decode()

    result = await api.data(ERASE, {"m": encode_id("Member", ada.id)}, sk=tenant.secret_key)
    assert result["eraseMember"] == {"member": {"displayName": "Former member"}, "userErrors": []}
    row = await Member.get(id=ada.id)
    assert (row.email, row.tier, row.customer_value_cents) == (None, None, 0)
    assert row.external_id == f"erased:{ada.id}"
    assert (await Comment.get(author_id=ada.id)).body == "[removed at the member's request]"
    after = await Idea.get(id=theirs.id)
    assert (after.upvotes, after.pledgers, after.pledged_quantity) == (
        before.upvotes,
        before.pledgers,
        before.pledged_quantity,
    )
    assert await Idea.filter(id=mine.id).exists()
    for event in await DomainEvent.all():
        text = orjson.dumps(event.data).decode()
        assert "ada@example.com" not in text and "Ada Lovelace" not in text, event.type
    # Erasing again is harmless; the same customer signing in later is a new member.
    await api.data(ERASE, {"m": encode_id("Member", ada.id)}, sk=tenant.secret_key)
    me = await api.data(
        "{ viewer { id displayName } }",
        pk=tenant.publishable_key,
        token=member_token(tenant, f"cus_{ada.external_id.removeprefix('cus_')}"),
    )
    assert me["viewer"]["id"] != encode_id("Member", ada.id)


async def test_bad_and_foreign_ids_are_not_found(api, tenant) -> None:
    for mutation in (EXPORT, ERASE):
        body = await api.data(
            mutation, {"m": encode_id("Member", 99_999_999)}, sk=tenant.secret_key
        )
        assert next(iter(body.values()))["userErrors"] == [{"code": "NOT_FOUND"}]
        body = await api.gql(mutation, {"m": encode_id("Member", 1)}, pk=tenant.publishable_key)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_erase_reaches_the_delivery_log(api, tenant) -> None:
    # A receiver that echoed the payload back: its answer is in the delivery log, and erasure
    # must reach it as well as the events it was rendered from.
    ada, theirs, _ = await _scene()
    endpoint = await WebhookEndpoint.create(url="https://1.1.1.1/crm", secret="whsec_x")
    crossing = await DomainEvent.get(type=EventType.IDEA_THRESHOLD_REACHED, idea_id=theirs.id)
    delivery = await WebhookDelivery.create(
        endpoint=endpoint, event=crossing, event_type=crossing.type, status=DeliveryStatus.FAILED
    )
    echo = f'{{"error": "unknown contact {ada.email} ({ada.external_id})"}}'
    await WebhookAttempt.create(
        delivery=delivery,
        attempt_number=1,
        started_at=utcnow(),
        outcome="http_error",
        status_code=422,
        response_excerpt=echo,
    )
    other = await WebhookAttempt.create(
        delivery=delivery,
        attempt_number=2,
        started_at=utcnow(),
        outcome="http_error",
        response_excerpt="bob@example.com unknown",
    )
    await api.data(ERASE, {"m": encode_id("Member", ada.id)}, sk=tenant.secret_key)
    [first] = await WebhookAttempt.filter(delivery_id=delivery.id, attempt_number=1)
    assert first.response_excerpt == '{"error": "unknown contact [removed] ([removed])"}'
    assert (await WebhookAttempt.get(id=other.id)).response_excerpt == "bob@example.com unknown"
