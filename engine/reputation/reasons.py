"""The sentence a member reads for each ledger entry ("+10: your idea “X” was upvoted").

Written in the second person and never naming the other member: a voter stays anonymous to the
author. Built from the stored entry alone, so old entries read the same after rules change.
"""

from __future__ import annotations

from engine.reputation.models import Reason, ReputationEntry

_TEMPLATES: dict[Reason, str] = {
    Reason.IDEA_SUBMITTED: "you submitted the idea {subject}",
    Reason.UPVOTE_RECEIVED: "your idea {subject} was upvoted",
    Reason.DOWNVOTE_RECEIVED: "your idea {subject} was downvoted",
    Reason.UPVOTE_WITHDRAWN: "an upvote on your idea {subject} was withdrawn",
    Reason.DOWNVOTE_WITHDRAWN: "a downvote on your idea {subject} was withdrawn",
    Reason.VOTE_CAST: "you voted on {subject}",
    Reason.VOTE_CAST_WITHDRAWN: "you withdrew your vote on {subject}",
    Reason.COMMENT: "you commented on {subject}",
    Reason.IDEA_ACCEPTED: "your idea {subject} was accepted",
    Reason.IDEA_SHIPPED: "your idea {subject} shipped",
    Reason.CAMPAIGN_WINNER: "your idea {subject} won its campaign",
    Reason.CAMPAIGN_WINNER_REVERSED: "your idea {subject} no longer wins: its campaign was reopened",
    Reason.SERIAL_VOTING_REVERSED: "points from serial voting on {subject} were reversed",
    Reason.MERGE_DUPLICATE_REVERSED: "a vote counted twice after {subject} was merged was reversed",
    Reason.MERGE_DUPLICATE_RESTORED: "a vote on {subject} counts again after an unmerge",
}


def describe(entry: ReputationEntry) -> str:
    subject = f"“{entry.subject}”" if entry.subject else "an idea"
    text = _TEMPLATES[entry.reason].format(subject=subject)
    sign = "+" if entry.points >= 0 else ""
    line = f"{sign}{entry.points}: {text}"
    if entry.withheld:
        line += f" ({entry.withheld} over today's cap on points from votes)"
    return line
