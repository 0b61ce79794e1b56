"""Listing: orderings, keyset pages without gaps or repeats, filters, bad cursors."""

from __future__ import annotations

import pytest

from engine import ideas as idea_ops
from engine import votes
from engine.errors import DomainError, ErrorCode
from engine.idea_list import IdeaFilter, count_ideas, list_ideas
from engine.models import IdeaStatus
from engine.ranking import IdeaOrder
from engine.visibility import BRAND
from engine.votes import VoteValue
from tests import factories


async def test_keyset_pages_cover_everything_once_with_ties(tenant) -> None:
    author = await factories.member()
    voters = await factories.members(3)
    campaign = await factories.campaign()
    made = [await factories.idea(author, campaign) for _ in range(23)]
    for idea in made[:5]:  # a few ties at the top, many ties at zero
        for voter in voters[:2]:
            await votes.cast_vote(voter, idea.id, VoteValue.UP)
    f = IdeaFilter(campaign_id=campaign.id, audience=BRAND)  # every order, SUPPORTER_VALUE too
    for order in IdeaOrder:
        seen, after = [], None
        while True:
            page = await list_ideas(f, order, 4, after)
            seen += [i.id for i in page.items]
            if not page.has_next_page:
                break
            after = page.cursors[-1]
        assert sorted(seen) == sorted(i.id for i in made), order
        assert len(seen) == len(set(seen)), order
    top = await list_ideas(f, IdeaOrder.TOP, 5)
    assert {i.id for i in top.items} == {i.id for i in made[:5]}
    newest = await list_ideas(f, IdeaOrder.NEW, 1)
    assert newest.items[0].id == made[-1].id
    assert await count_ideas(f) == 23


async def test_status_and_search_filters(tenant) -> None:
    author = await factories.member()
    campaign = await factories.campaign()
    a = await factories.idea(author, campaign, title="Oat milk latte")
    await factories.idea(author, campaign, title="Decaf espresso")
    await idea_ops.set_idea_status(a.id, IdeaStatus.ACCEPTED, "yes")
    accepted = await list_ideas(
        IdeaFilter(campaign_id=campaign.id, statuses=(IdeaStatus.ACCEPTED,))
    )
    assert [i.id for i in accepted.items] == [a.id]
    found = await list_ideas(IdeaFilter(campaign_id=campaign.id, search="OAT"))
    assert [i.id for i in found.items] == [a.id]


@pytest.mark.parametrize("cursor", ["garbage", "WyJ4Il0", "W1tdLDFd"])
async def test_bad_cursor(tenant, cursor) -> None:
    with pytest.raises(DomainError) as caught:
        await list_ideas(IdeaFilter(), IdeaOrder.TOP, 5, cursor)
    assert caught.value.code == ErrorCode.INVALID
