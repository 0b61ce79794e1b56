"""The event spine: events commit with their change, hooks see them in order, nothing floats free."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from engine import events, votes
from engine.models import DomainEvent, Member
from engine.votes import VoteValue
from tests import factories


class Recorder(events.AfterCommitHook):
    def __init__(self) -> None:
        self.seen: list[tuple[str, list[str]]] = []

    async def before_commit(self, connection, events_: Sequence[DomainEvent]) -> None:
        self.seen.append(("before", [e.type for e in events_]))

    async def after_commit(self, events_: Sequence[DomainEvent]) -> None:
        self.seen.append(("after", [e.type for e in events_]))


async def test_hooks_see_events_before_and_after_commit(tenant) -> None:
    author, voter = await factories.members(2)
    idea = await factories.idea(author, await factories.campaign())
    recorder = Recorder()
    previous = events.installed_hooks()
    events.install_hooks(*previous, recorder)
    try:
        await votes.cast_vote(voter, idea.id, VoteValue.UP)
    finally:
        events.install_hooks(*previous)
    assert recorder.seen == [("before", ["idea.voted"]), ("after", ["idea.voted"])]


async def test_a_failed_unit_of_work_leaves_no_event_and_no_after_commit(tenant) -> None:
    recorder = Recorder()
    previous = events.installed_hooks()
    events.install_hooks(*previous, recorder)
    try:
        with pytest.raises(RuntimeError):
            async with events.unit_of_work():
                await Member.create(external_id="cus_rolled_back", display_name="x")
                await events.record("idea.created", {"x": 1})
                raise RuntimeError("boom")
    finally:
        events.install_hooks(*previous)
    assert not await DomainEvent.filter(type="idea.created", idea_id=None).exists()
    assert not await Member.filter(external_id="cus_rolled_back").exists()
    assert recorder.seen == []  # the block failed before commit: no hook saw anything


async def test_record_outside_a_unit_of_work_is_refused(tenant) -> None:
    with pytest.raises(RuntimeError):
        await events.record("idea.created", {})


async def test_only_consumed_types_wait_for_a_job(tenant) -> None:
    author, voter = await factories.members(2)
    campaign = await factories.campaign()  # campaign.opened: no asynchronous consumer
    idea = await factories.idea(author, campaign)
    await votes.cast_vote(voter, idea.id, VoteValue.UP)
    opened = await DomainEvent.get(type="campaign.opened", campaign_id=campaign.id)
    voted = await DomainEvent.get(type="idea.voted", idea_id=idea.id)
    assert opened.processed_at is not None
    assert voted.processed_at is None  # the reputation consumer books it


async def test_before_the_composition_root_speaks_every_event_waits_for_a_job(tenant) -> None:
    from engine import consumers

    events.set_consumed_types(None)
    try:
        campaign = await factories.campaign()
    finally:
        events.set_consumed_types(consumers.consumed_types())
    opened = await DomainEvent.get(type="campaign.opened", campaign_id=campaign.id)
    assert opened.processed_at is None  # nothing is lost: the consumer run marks it processed


def test_the_spine_and_package_inits_load_no_consumer_graph() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, engine.events, engine.reputation; "
        "loaded = sorted(m for m in sys.modules if m == 'engine.consumers' "
        "or m.startswith('engine.reputation.')); print(loaded)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


async def test_on_commit_callbacks_run_after_the_commit_and_die_with_a_rollback(tenant) -> None:
    ran: list[str] = []

    async def committed(name: str) -> None:
        # After the commit, outside the transaction: another connection sees the row.
        assert await Member.filter(external_id=name).exists()
        ran.append(name)

    async with events.unit_of_work():
        await Member.create(external_id="cus_kept", display_name="x")
        events.on_commit(lambda: committed("cus_kept"))
        async with events.unit_of_work():  # a nested unit joins the outer: its callback waits too
            events.on_commit(lambda: committed("cus_kept"))
        assert ran == []
    assert ran == ["cus_kept", "cus_kept"]

    with pytest.raises(RuntimeError):
        async with events.unit_of_work():
            await Member.create(external_id="cus_gone", display_name="x")
            events.on_commit(lambda: committed("cus_gone"))
            raise RuntimeError("boom")
    assert ran == ["cus_kept", "cus_kept"]  # rolled back: never called, nothing left behind


async def test_a_failing_on_commit_callback_does_not_fail_the_committed_change(tenant) -> None:
    async def broken() -> None:
        raise ValueError("enqueue lost")

    async with events.unit_of_work():
        await Member.create(external_id="cus_committed", display_name="x")
        events.on_commit(broken)
    assert await Member.filter(external_id="cus_committed").exists()


async def test_on_commit_outside_a_unit_of_work_is_refused() -> None:
    async def nothing() -> None:
        return None

    with pytest.raises(RuntimeError):
        events.on_commit(nothing)


async def test_a_new_event_is_the_instance_the_model_would_build(tenant) -> None:
    # events._unsaved skips Model.__init__ for speed: it must leave the same instance state.
    event = events.new_event(
        events.EventType.IDEA_VOTED, {"a": [1, "b"]}, campaign_id=3, idea_id=4, member_id=None
    )
    columns = {
        name: getattr(event, name)
        for name in DomainEvent._meta.fields_db_projection
        if name != "id"
    }
    assert vars(event) == vars(DomainEvent(**columns))
    assert event.occurred_at.tzinfo is not None and not event._saved_in_db
