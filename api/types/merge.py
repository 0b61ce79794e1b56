"""mergePreview: what a merge would move, shown before the brand confirms it."""

from __future__ import annotations

import strawberry

from engine.merges import MergePreview as Preview
from engine.ranking import Counters


@strawberry.type(name="MergeCounts", description="An idea's counters, as a merge sees them.")
class MergeCounts:
    upvotes: int
    downvotes: int
    net_votes: int
    score_count: int
    pledgers: int
    pledged_quantity: int
    comments: int
    supporters: int = strawberry.field(description="Distinct members behind an upvote or pledge.")

    @classmethod
    def of(cls, c: Counters) -> MergeCounts:
        return cls(
            upvotes=c.upvotes,
            downvotes=c.downvotes,
            net_votes=c.net_votes,
            score_count=c.score_count,
            pledgers=c.pledgers,
            pledged_quantity=c.pledged_quantity,
            comments=c.comment_count,
            supporters=c.supporter_count,
        )


@strawberry.type(
    name="MergePreview",
    description="What mergeIdea would move now. Read without locks: a vote cast before the "
    "merge commits can change the real move by that vote.",
)
class MergePreview:
    source: MergeCounts
    target: MergeCounts = strawberry.field(description="The target's counters today.")
    target_after: MergeCounts = strawberry.field(description="The target's counters after it.")
    moved_upvotes: int
    moved_downvotes: int
    moved_scores: int
    moved_pledges: int
    moved_pledged_quantity: int
    moved_supporters: int = strawberry.field(
        description="Distinct members with a vote, score or pledge that moves."
    )
    counted_once: int = strawberry.field(
        description="Supporters of the source already counted on the target (their own choice "
        "there stays) or who wrote it (no self-votes): nothing of theirs moves."
    )
    source_comments: int = strawberry.field(
        description="Comments stay on the source, which keeps its thread."
    )

    @classmethod
    def of(cls, p: Preview) -> MergePreview:
        return cls(
            source=MergeCounts.of(p.source),
            target=MergeCounts.of(p.target),
            target_after=MergeCounts.of(p.target_after),
            moved_upvotes=p.moved_upvotes,
            moved_downvotes=p.moved_downvotes,
            moved_scores=p.moved_scores,
            moved_pledges=p.moved_pledges,
            moved_pledged_quantity=p.moved_pledged_quantity,
            moved_supporters=p.moved_supporters,
            counted_once=p.counted_once,
            source_comments=p.source_comments,
        )
