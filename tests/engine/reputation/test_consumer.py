"""The consumer as a whole, by property: random activity gives the totals the rules say.

Hypothesis draws a sequence of submit, vote (cast, change, retract), accept, ship and merge/unmerge
actions for a few members, runs them through the real engine and the consumer, and compares every
member's total with a reference computed from the rules alone (``Reference``, an in-memory model
that never looks at the database). Then every event is processed again (nothing may change) and
``rebuild`` must find nothing to repair.

Two modes: *ordered* processes events in the order they happened, with a small daily cap and serial
limit so both anti-gaming rules bite; *shuffled* has neither (their outcome legitimately depends on
processing order) and processes each batch of pending events in a random order, checking that order
does not matter.
"""

from __future__ import annotations

import os
import random
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from unittest.mock import patch

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from engine import consumers, ideas, merges, votes
from engine.errors import DomainError, ErrorCode
from engine.models import DomainEvent, IdeaStatus, Member
from engine.reputation.consumer import consume
from engine.reputation.levels import level_for
from engine.reputation.models import ReputationEntry
from engine.reputation.rebuild import rebuild
from engine.reputation.rules import DEFAULT_RULES, Rules, RulesPatch, update_rules
from engine.tenancy import tenant_scope
from engine.tenants import create_tenant
from engine.votes import VoteValue
from tests import factories
from tests.engine.reputation.support import process_pending, replay_all

MEMBERS = 4
# Every event of an example happens at this instant: one day for the cap, one window for serial.
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
_ACCEPTED = {IdeaStatus.ACCEPTED, IdeaStatus.IN_PROGRESS, IdeaStatus.SHIPPED}

member_index = st.integers(0, MEMBERS - 1)
idea_index = st.integers(0, 11)
# The voter is drawn relative to the idea's author (offset 0 is a self-vote, which is refused), so
# votes land on other members' ideas and pile up on a few authors, where caps and serial rules bite.
voter_offset = st.sampled_from([1, 2, 3, 1, 0])
_ACTIONS = {
    "vote": st.tuples(st.just("vote"), voter_offset, idea_index, st.sampled_from([1, 1, 0, -1])),
    "submit": st.tuples(st.just("submit"), member_index),
    "status": st.tuples(
        st.just("status"),
        idea_index,
        st.sampled_from([IdeaStatus.ACCEPTED, IdeaStatus.SHIPPED, IdeaStatus.UNDER_REVIEW]),
    ),
    "merge": st.tuples(st.just("merge"), idea_index, idea_index),
    "unmerge": st.tuples(st.just("unmerge"), idea_index),
    "process": st.tuples(st.just("process")),
    "replay": st.tuples(st.just("replay"), st.integers(0, 500)),
}
# Mostly votes: they are where ordering, caps and serial voting matter.
actions = st.sampled_from(
    ["vote"] * 6 + ["submit", "status", "merge", "merge", "unmerge", "process", "replay"]
).flatmap(_ACTIONS.__getitem__)
# Ideas first, by several authors, so that votes have somewhere to go and authors to pile on.
FIRST_IDEAS = [
    ("submit", 0),
    ("submit", 0),
    ("submit", 0),
    ("submit", 1),
    ("submit", 1),
    ("submit", 2),
]
openings = st.lists(st.tuples(st.just("submit"), member_index), max_size=3)


@dataclass
class Credit:
    author: int
    booked: dict[str, int] = field(default_factory=lambda: {"author": 0, "voter": 0})
    target: dict[str, int] = field(default_factory=lambda: {"author": 0, "voter": 0})
    serial: bool = False
    # What a merge holds back while the vote counts as a duplicate.
    held: dict[str, int] | None = None


@dataclass
class Reference:
    """The rules, applied to the actions in the order they happened, without any database."""

    rules: Rules
    totals: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    vote_points_today: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    authors: list[int] = field(default_factory=list)
    status: list[IdeaStatus] = field(default_factory=list)
    paid: set[tuple[int, str]] = field(default_factory=set)
    votes: dict[tuple[int, int], int] = field(default_factory=dict)
    credits: dict[tuple[int, int], Credit] = field(default_factory=dict)
    cast: dict[tuple[int, int], set[int]] = field(default_factory=lambda: defaultdict(set))
    merged_into: dict[int, int] = field(default_factory=dict)
    # Per merged source idea: the votes copied onto the target, and the voters paid once.
    copies: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    duplicates: dict[int, list[int]] = field(default_factory=dict)
    # (member, idea) votes changed since a merge copied them (unmerge leaves those alone).
    touched: set[tuple[int, int]] = field(default_factory=set)
    # (member, idea) votes found serial: out of every count once the consumer has handled the
    # vote that revealed them (Vote.discounted_by), so a merge after that does not copy them.
    serial_found: set[tuple[int, int]] = field(default_factory=set)
    discounted: set[tuple[int, int]] = field(default_factory=set)

    def submit(self, author: int) -> None:
        self.authors.append(author)
        self.status.append(IdeaStatus.NEW)
        self.totals[author] += self.rules.idea_submitted

    def vote_refusal(self, voter: int, idea: int, value: int) -> ErrorCode | None:
        if idea in self.merged_into:
            return ErrorCode.IDEA_CLOSED
        if value and self.status[idea] in (IdeaStatus.SHIPPED, IdeaStatus.DECLINED):
            return ErrorCode.IDEA_CLOSED  # decided ideas take no new votes (engine.admission)
        return ErrorCode.SELF_VOTE if self.authors[idea] == voter else None

    def vote_changes(self, voter: int, idea: int, value: int) -> bool:
        return self.votes.get((voter, idea), 0) != value

    def wanted(self, credit: Credit, side: str, value: int) -> int:
        if not value or credit.serial:
            return 0
        if side == "voter":
            return self.rules.vote_cast
        return self.rules.upvote_received if value > 0 else self.rules.downvote_received

    def vote(self, voter: int, idea: int, value: int) -> None:
        author = self.authors[idea]
        self.votes[(voter, idea)] = value
        self.touched.add((voter, idea))
        credit = self.credits.setdefault((voter, idea), Credit(author))
        if value:
            pair = self.cast[(voter, author)]
            pair.add(idea)
            if len(pair) > self.rules.serial_vote_limit:
                for other in pair:
                    self._reverse_serial(self.credits[(voter, other)], voter)
                    self.serial_found.add((voter, other))
        for side, member in (("author", author), ("voter", voter)):
            wanted = self.wanted(credit, side, value)
            if wanted == credit.target[side]:
                continue
            self._book(member, -credit.booked[side])
            points = wanted
            if wanted > 0:
                room = max(0, self.rules.daily_vote_cap - self.vote_points_today[member])
                points = min(wanted, room)
            self._book(member, points)
            credit.target[side], credit.booked[side] = wanted, points

    def _reverse_serial(self, credit: Credit, voter: int) -> None:
        if credit.serial:
            return
        credit.serial = True
        for side, member in (("author", credit.author), ("voter", voter)):
            self._book(member, -credit.booked[side])
            credit.booked[side] = credit.target[side] = 0
        if credit.held is not None:
            credit.held = {"author": 0, "voter": 0}

    def processed(self) -> None:
        """The consumer handled every pending event: the serial votes found are discounted."""
        self.discounted |= self.serial_found
        self.serial_found.clear()

    def _book(self, member: int, points: int) -> None:
        self.totals[member] += points
        self.vote_points_today[member] += points

    def merge_refused(self, source: int, target: int) -> bool:
        return (
            source == target
            or source in self.merged_into
            or target in self.merged_into
            or source in self.merged_into.values()
        )

    def merge(self, source: int, target: int) -> None:
        """Copy votes the target lacks (earning nothing); a voter of both is paid for one vote."""
        self.merged_into[source] = target
        self.copies[source], self.duplicates[source] = [], []
        for (voter, idea), value in sorted(self.votes.items()):
            if idea != source or not value or voter == self.authors[target]:
                continue
            if (voter, idea) in self.discounted:
                continue  # serial votes count nowhere: a merge does not copy them
            if self.votes.get((voter, target), 0):
                self.duplicates[source].append(voter)
                credit = self.credits[(voter, source)]
                credit.held = dict(credit.booked)
                for side, member in (("author", credit.author), ("voter", voter)):
                    self._book(member, -credit.booked[side])
                    credit.booked[side] = 0
            else:
                self.votes[(voter, target)] = value
                self.touched.discard((voter, target))
                self.copies[source].append((voter, value))

    def unmerge(self, source: int) -> None:
        target = self.merged_into.pop(source)
        for voter, value in self.copies.pop(source):
            if self.votes.get((voter, target)) == value and (voter, target) not in self.touched:
                self.votes[(voter, target)] = 0
        for voter in self.duplicates.pop(source):
            credit = self.credits[(voter, source)]
            assert credit.held is not None
            for side, member in (("author", credit.author), ("voter", voter)):
                self._book(member, credit.held[side])
                credit.booked[side] = credit.held[side]
            credit.held = None

    def set_status(self, idea: int, status: IdeaStatus) -> None:
        if status == self.status[idea]:
            return
        self.status[idea] = status
        author = self.authors[idea]
        if status in _ACCEPTED and (idea, "accepted") not in self.paid:
            self.paid.add((idea, "accepted"))
            self.totals[author] += self.rules.idea_accepted
        if status == IdeaStatus.SHIPPED and (idea, "shipped") not in self.paid:
            self.paid.add((idea, "shipped"))
            self.totals[author] += self.rules.idea_shipped


async def _process_shuffled(rng: random.Random) -> None:
    while True:
        ids = list(
            await DomainEvent.filter(processed_at=None).order_by("id").values_list("id", flat=True)
        )
        if not ids:
            return
        rng.shuffle(ids)
        for event_id in ids:
            await consumers.process_event(int(event_id))  # type: ignore[call-overload]


async def _process_in_batches(rng: random.Random) -> None:
    """What a worker's loop does: claim batches of every size, in event order."""
    while await consumers.process_pending(set(), limit=rng.randint(1, 9)):
        pass
    assert not await DomainEvent.filter(processed_at=None).exists()


async def _member_state() -> dict[int, tuple[int, int]]:
    rows = await Member.all().values_list("id", "reputation", "level")
    return {int(i): (int(r), int(lv)) for i, r, lv in rows}


SETTINGS = settings(
    # Bounded for the suite; COSOURCE_HYPOTHESIS_EXAMPLES=500 for a longer soak.
    max_examples=int(os.environ.get("COSOURCE_HYPOTHESIS_EXAMPLES", "20")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# Always run, whatever is drawn: ideas 0-2 are member 0's, 3-4 member 1's, 5 member 2's; a vote's
# first number is the voter's offset from the author.
MERGE_STORY = [
    ("vote", 1, 0, 1),  # member 1 votes for idea 0 ...
    ("vote", 3, 5, 1),  # ... and for idea 5: a duplicate once 0 merges into 5
    ("vote", 2, 0, 1),  # member 2 wrote idea 5: never copied, never a duplicate
    ("vote", 3, 0, 1),  # member 3 only votes for idea 0: copied onto 5, earning nothing
    ("process",),
    ("merge", 0, 5),
    ("process",),
    ("vote", 1, 5, -1),  # member 3 changes the copy: their own vote now, kept by the unmerge
    ("vote", 1, 0, 0),  # refused: idea 0 is merged
    ("unmerge", 0),
    ("process",),
    ("merge", 0, 5),
    ("status", 5, IdeaStatus.SHIPPED),
    ("unmerge", 0),
]
SERIAL_AND_CAP_STORY = [
    ("vote", 1, 0, 1),
    ("vote", 1, 1, 1),
    ("vote", 2, 1, 1),
    ("vote", 3, 2, 1),
    ("process",),
    ("vote", 1, 2, -1),  # member 1's third vote on member 0's ideas: serial
    ("vote", 1, 0, 0),
    ("replay", 3),
]

# Member 2's three votes on member 0's ideas are serial (limit 2); once the consumer found them, a
# merge of idea 0 into member 1's idea 3 copies none of them, so member 2's vote there is new.
SERIAL_THEN_MERGE_STORY = [
    ("vote", 2, 0, 1),
    ("vote", 2, 1, 1),
    ("vote", 2, 2, 1),
    ("process",),
    ("merge", 0, 3),
    ("vote", 1, 3, 1),
    ("process",),
]


@SETTINGS
@example(opening=[], steps=MERGE_STORY)
@example(opening=[], steps=SERIAL_THEN_MERGE_STORY)
@example(opening=[], steps=SERIAL_AND_CAP_STORY)
@given(opening=openings, steps=st.lists(actions, min_size=15, max_size=40))
async def test_random_activity_processed_in_order_matches_the_rules(
    database: str, opening: list[tuple[Any, ...]], steps: list[tuple[Any, ...]]
) -> None:
    """A small daily cap and serial limit, so both anti-gaming rules take part."""
    await _check(opening, steps, shuffled=False, seed=0)


@SETTINGS
@example(opening=[], steps=MERGE_STORY, seed=7)
@given(
    opening=openings,
    steps=st.lists(actions, min_size=15, max_size=40),
    seed=st.integers(0, 2**16),
)
async def test_random_activity_processed_in_any_order_matches_the_rules(
    database: str, opening: list[tuple[Any, ...]], steps: list[tuple[Any, ...]], seed: int
) -> None:
    """No cap or serial limit (their outcome depends on order by nature); events in random order."""
    await _check(opening, steps, shuffled=True, seed=seed)


@SETTINGS
@example(opening=[], steps=MERGE_STORY, seed=3)
@example(opening=[], steps=SERIAL_AND_CAP_STORY, seed=5)
@example(opening=[], steps=SERIAL_THEN_MERGE_STORY, seed=1)
@given(
    opening=openings,
    steps=st.lists(actions, min_size=15, max_size=40),
    seed=st.integers(0, 2**16),
)
async def test_random_activity_processed_in_batches_matches_the_rules(
    database: str, opening: list[tuple[Any, ...]], steps: list[tuple[Any, ...]], seed: int
) -> None:
    """The ordered rules (cap and serial limit bite), events booked many per transaction by the
    worker's loop (engine.consumers.process_pending), in batches of random sizes."""
    await _check(opening, steps, shuffled=False, seed=seed, batched=True)


async def _check(
    opening: list[tuple[Any, ...]],
    steps: list[tuple[Any, ...]],
    *,
    shuffled: bool,
    seed: int,
    batched: bool = False,
) -> None:
    new = await create_tenant(f"Property {secrets.token_hex(4)}")
    with tenant_scope(new.tenant.id), patch("engine.events.utcnow", return_value=NOW):
        if shuffled:
            patch_rules = RulesPatch(daily_vote_cap=1_000_000, serial_vote_limit=1_000)
        else:
            patch_rules = RulesPatch(daily_vote_cap=25, serial_vote_limit=2)
        rules = await update_rules(patch_rules)
        assert (rules.upvote_received, rules.idea_submitted) == (
            DEFAULT_RULES.upvote_received,
            DEFAULT_RULES.idea_submitted,
        )
        ref = Reference(rules)
        members = await factories.members(MEMBERS)
        campaign = await factories.campaign()
        idea_ids: list[int] = []
        rng = random.Random(seed)

        async def process() -> None:
            if shuffled:
                await _process_shuffled(rng)
            elif batched:
                await _process_in_batches(rng)
            else:
                await process_pending()
            ref.processed()

        for step in FIRST_IDEAS + opening + steps:
            kind = step[0]
            if kind == "submit":
                idea = await factories.idea(members[step[1]], campaign)
                idea_ids.append(idea.id)
                ref.submit(step[1])
            elif kind == "vote" and idea_ids:
                idea_no, value = step[2] % len(idea_ids), step[3]
                voter = (ref.authors[idea_no] + step[1]) % MEMBERS
                refusal = ref.vote_refusal(voter, idea_no, value)
                try:
                    outcome = await votes.cast_vote(
                        members[voter], idea_ids[idea_no], VoteValue(value)
                    )
                except DomainError as error:
                    assert error.code == refusal
                    continue
                assert refusal is None
                assert outcome.changed == ref.vote_changes(voter, idea_no, value)
                if outcome.changed:
                    ref.vote(voter, idea_no, value)
            elif kind == "merge" and idea_ids:
                source, target = step[1] % len(idea_ids), step[2] % len(idea_ids)
                refused = ref.merge_refused(source, target)
                try:
                    await merges.merge_ideas(idea_ids[source], idea_ids[target])
                except DomainError:
                    assert refused
                    continue
                assert not refused
                ref.merge(source, target)
                if not shuffled:
                    # Handled while it stands: the reference holds points back at merge time, and
                    # with a cap that moment matters (a merge handled after its unmerge books nothing).
                    await process()
            elif kind == "unmerge" and idea_ids:
                # Mostly a merged idea (an unmerge of anything else is refused, tested once).
                merged = sorted(ref.merged_into) or list(range(len(idea_ids)))
                source = merged[step[1] % len(merged)]
                try:
                    await merges.unmerge_idea(idea_ids[source])
                except DomainError as error:
                    assert error.code == ErrorCode.INVALID_TRANSITION
                    assert source not in ref.merged_into
                    continue
                ref.unmerge(source)
            elif kind == "status" and idea_ids:
                idea_no = step[1] % len(idea_ids)
                await ideas.set_idea_status(idea_ids[idea_no], step[2])
                ref.set_status(idea_no, step[2])
            elif kind == "process":
                await process()
            elif kind == "replay":
                done = await DomainEvent.exclude(processed_at=None).order_by("id")
                if done:
                    await consume(done[step[1] % len(done)])
        await process()

        state = await _member_state()
        expected = {m.id: ref.totals[i] for i, m in enumerate(members)}
        assert {i: r for i, (r, _) in state.items()} == expected
        assert {i: lv for i, (_, lv) in state.items()} == {
            i: level_for(total, rules) for i, total in expected.items()
        }
        for member in members:
            points: list[Any] = await ReputationEntry.filter(member_id=member.id).values_list(
                "points", flat=True
            )
            assert sum(points) == expected[member.id]

        # Every event again (a retried job, the sweeper): nothing changes.
        entries_before = await ReputationEntry.all().count()
        await replay_all()
        await process_pending()
        assert await ReputationEntry.all().count() == entries_before
        assert await _member_state() == state

        if await ReputationEntry.filter(withheld__gt=0).exists():
            event("daily cap withheld points")
        if await ReputationEntry.filter(reason="SERIAL_VOTING_REVERSED").exists():
            event("serial votes reversed")
        if await ReputationEntry.filter(reason="MERGE_DUPLICATE_REVERSED").exists():
            event("duplicate votes reversed by a merge")
        if await ReputationEntry.filter(reason="MERGE_DUPLICATE_RESTORED").exists():
            event("duplicate votes restored by an unmerge")
        report = await rebuild(chunk=3)
        assert report.drifts == []
        assert await _member_state() == state
