"""Building blocks for webhook tests: endpoints pointing at a receiver, and threshold crossings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine import votes
from engine.events import EventType
from engine.models import Campaign, Idea, Member, ThresholdMetric
from engine.thresholds import ThresholdSpec
from engine.votes import VoteValue
from runtime.background import Background
from runtime.queue import InProcessJobQueue
from tests import factories
from tests.webhooks.receiver import Receiver
from webhooks.endpoints import EndpointInput, EndpointWithSecret, create_endpoint


async def endpoint_for(
    receiver: Receiver,
    path: str = "/hook",
    *,
    trust: bool = True,
    event_types: tuple[str, ...] = (EventType.IDEA_THRESHOLD_REACHED,),
    **options: object,
) -> EndpointWithSecret:
    """An endpoint delivering ``event_types`` to ``receiver`` (``()`` for every type).

    With ``trust`` the receiver verifies the endpoint's secret.
    """
    created = await create_endpoint(
        EndpointInput(url=receiver.url(path), event_types=event_types, **options)  # type: ignore[arg-type]
    )
    if trust:
        receiver.set_secrets(*receiver.secrets, created.secret)
    return created


@dataclass
class Crossing:
    campaign: Campaign
    idea: Idea
    author: Member
    voters: list[Member]


async def idea_near_threshold(votes_needed: int = 2) -> Crossing:
    """An idea of an open campaign whose NET_VOTES threshold is ``votes_needed`` upvotes away."""
    campaign = await factories.campaign(
        thresholds=(ThresholdSpec(ThresholdMetric.NET_VOTES, votes_needed, name="pre-order"),)
    )
    author = await factories.member()
    idea = await factories.idea(author, campaign)
    voters = await factories.members(votes_needed)
    return Crossing(campaign, idea, author, voters)


async def cross(crossing: Crossing) -> None:
    """Cast the votes that cross the threshold, one after the other."""
    for voter in crossing.voters:
        await votes.cast_vote(voter, crossing.idea.id, VoteValue.UP)


@dataclass
class RecordingQueue:
    """A job queue that runs nothing and remembers what it was given."""

    jobs: list[tuple[str, tuple[Any, ...], str | None]] = field(default_factory=list)
    # defer_by of each job, by its place in ``jobs`` (clearing ``jobs`` forgets them too)
    defer_by: dict[int, float | None] = field(default_factory=dict)

    async def enqueue(
        self, function: str, *args: Any, job_id: str | None = None, defer_by: float | None = None
    ) -> bool:
        self.defer_by[len(self.jobs)] = defer_by
        self.jobs.append((function, args, job_id))
        return True

    def wake_ups(self) -> list[tuple[str | None, float | None]]:
        """(job id, defer_by) of every `drain` wake-up (webhooks.drain), in order."""
        return [
            (job_id, self.defer_by[n])
            for n, (name, _, job_id) in enumerate(self.jobs)
            if name == "drain"
        ]

    def delivery_jobs(self) -> list[tuple[int, str | None]]:
        return [(args[0], job_id) for name, args, job_id in self.jobs if name == "deliver"]


class InProcessBackground(Background):
    """What the ``background`` fixture yields: the embedded default, its jobs run in this process
    (so a test can ``queue.drain()`` them or call a job with ``queue.ctx``)."""

    queue: InProcessJobQueue
