"""DISCOVER: exploration by Thompson sampling, so early winners do not lock in.

Each idea's approval rate has a Beta posterior given its exposure: upvotes are successes; downvotes,
and (at a tenth of the weight) impressions that drew no vote at all, are failures. A page samples one
rate per idea from its posterior and sorts by the samples: an idea seen by few has a wide
posterior and often samples high, an idea seen by many samples close to its true rate. On top,
every fourth slot (``EXPLORATION_SHARE``) is reserved for an idea with little exposure (fewer than
``LOW_EXPOSURE`` impressions), so new ideas are shown even when a campaign's best ideas are strong.

The sampler is seeded by tenant, campaign, viewer and hour, so a viewer's pages are stable within
the hour (page 2 follows page 1: the cursor carries the seed hour) and anonymous pages are the same
for everyone, hence cacheable. The simulation in ``python -m bench herding`` measures what this buys
against TOP-only traffic. See docs/architecture.md ("Discovery and community health").
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass

PRIOR_SUCCESSES = 1.0
PRIOR_FAILURES = 1.0
# An impression without a vote is weak evidence against an idea, not a downvote.
SILENT_WEIGHT = 0.1
EXPLORATION_SHARE = 0.25
LOW_EXPOSURE = 50


@dataclass(frozen=True)
class Arm:
    """One idea as the sampler sees it."""

    id: int
    impressions: int
    upvotes: int
    downvotes: int

    @property
    def low_exposure(self) -> bool:
        return self.impressions < LOW_EXPOSURE


def posterior(arm: Arm) -> tuple[float, float]:
    """The Beta posterior's (alpha, beta) of the idea's approval rate."""
    silent = max(arm.impressions - arm.upvotes - arm.downvotes, 0)
    return (
        PRIOR_SUCCESSES + arm.upvotes,
        PRIOR_FAILURES + arm.downvotes + SILENT_WEIGHT * silent,
    )


def seeded(*parts: object) -> random.Random:
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def discover_order(
    arms: Sequence[Arm], rng: random.Random, *, share: float = EXPLORATION_SHARE
) -> list[int]:
    """Idea ids in DISCOVER order: sampled approval, with ``share`` of the slots for low exposure."""
    sampled = sorted(
        ((rng.betavariate(*posterior(arm)), arm.id, arm.low_exposure) for arm in arms),
        key=lambda s: (-s[0], -s[1]),
    )
    ranked = [idea_id for _, idea_id, _ in sampled]
    explore = [idea_id for _, idea_id, low in sampled if low]
    if share <= 0 or not explore:
        return ranked
    every = max(1, round(1 / share))
    placed: set[int] = set()
    order: list[int] = []
    exploit_at = explore_at = 0
    while len(order) < len(ranked):
        if (len(order) + 1) % every == 0:
            while explore_at < len(explore) and explore[explore_at] in placed:
                explore_at += 1
            if explore_at < len(explore):
                placed.add(explore[explore_at])
                order.append(explore[explore_at])
                continue
        while ranked[exploit_at] in placed:
            exploit_at += 1
        placed.add(ranked[exploit_at])
        order.append(ranked[exploit_at])
    return order
