"""`python -m bench herding`: does DISCOVER undo herding, and does the participation alert fire in time?

A seeded simulation (no server: it runs the engine's own ranking code, engine.discovery and
engine.alerts, so what it measures is what production ranks with). A campaign of ideas with a
hidden true quality; visitors arrive one by one and see a page of ideas, either TOP (net votes) or,
with some probability, DISCOVER (Thompson sampling over the ideas' exposure). Visitors herd: they
mostly look at the top of the page (attention halves every few positions), and an idea they look at
gets an upvote with probability equal to its quality, else sometimes a downvote. Every idea on the
page counts an impression.

Printed, over many seeds: the Kendall tau between the final TOP ranking and true quality for
TOP-only traffic and for traffic with a share of DISCOVER pages (mean, spread), and the cost of
exploring: the share of votes cast on DISCOVER pages and how much lower the quality of what those
visitors saw was. Then a falling-participation scenario and a steady one, with the week the
`campaign.participation_dropped` rule fires.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass, field
from statistics import mean, pstdev

from engine.discovery import Arm, discover_order
from engine.insights import AlertRules, participation_dropped

PAGE = 10
ATTENTION = 0.8  # chance a visitor looks one position further down the page
DOWNVOTE = 0.3  # chance a visitor who does not like an idea says so


@dataclass
class Idea:
    id: int
    quality: float
    up: int = 0
    down: int = 0
    impressions: int = 0

    @property
    def net(self) -> int:
        return self.up - self.down


@dataclass
class Run:
    tau: float
    votes: int
    discover_votes: int
    shown_quality_top: list[float] = field(default_factory=list)
    shown_quality_discover: list[float] = field(default_factory=list)


def kendall_tau(a: list[float], b: list[float]) -> float:
    """Kendall's tau-b (ties in either ranking handled), O(n^2): n is a campaign's ideas."""
    concordant = discordant = ties_a = ties_b = 0
    n = len(a)
    for i in range(n):
        for j in range(i + 1, n):
            da, db = a[i] - a[j], b[i] - b[j]
            if da == 0 and db == 0:
                continue
            if da == 0:
                ties_a += 1
            elif db == 0:
                ties_b += 1
            elif (da > 0) == (db > 0):
                concordant += 1
            else:
                discordant += 1
    denominator = ((concordant + discordant + ties_a) * (concordant + discordant + ties_b)) ** 0.5
    return (concordant - discordant) / denominator if denominator else 0.0


def simulate(seed: int, *, ideas: int, visitors: int, discover_share: float) -> Run:
    rng = random.Random(seed)
    pool = [Idea(i, rng.betavariate(2, 3)) for i in range(1, ideas + 1)]
    by_id = {idea.id: idea for idea in pool}
    # TOP ties (all zero at the start) break by age, as the API does (newest first).
    run = Run(tau=0.0, votes=0, discover_votes=0)
    for visitor in range(visitors):
        discover = rng.random() < discover_share
        if discover:
            arms = [Arm(i.id, i.impressions, i.up, i.down) for i in pool]
            page = [
                by_id[i] for i in discover_order(arms, random.Random(seed * 7919 + visitor))[:PAGE]
            ]
        else:
            page = sorted(pool, key=lambda i: (-i.net, -i.id))[:PAGE]
        (run.shown_quality_discover if discover else run.shown_quality_top).append(
            mean(i.quality for i in page)
        )
        for idea in page:
            idea.impressions += 1
        for idea in page:  # the visitor reads down the page, and mostly stops early (herding)
            voted = True
            if rng.random() < idea.quality:
                idea.up += 1
            elif rng.random() < DOWNVOTE:
                idea.down += 1
            else:
                voted = False
            if voted:
                run.votes += 1
                run.discover_votes += discover
            if rng.random() > ATTENTION:
                break
    run.tau = kendall_tau([i.net for i in pool], [i.quality for i in pool])
    return run


def weekly_active(seed: int, weeks: int, *, fall_from: int | None) -> list[int]:
    """Active members per week: a steady community (about 120 a week, +-10 %), or one whose
    participation halves from week ``fall_from`` on."""
    rng = random.Random(seed)
    counts = []
    for week in range(weeks):
        base = 120.0 if fall_from is None or week < fall_from else 120.0 * 0.5
        counts.append(max(0, round(base * rng.uniform(0.9, 1.1))))
    return counts


def _row(name: str, values: list[float]) -> str:
    return (
        f"{name:<44} mean {mean(values):6.3f}  sd {pstdev(values):5.3f}  "
        f"min {min(values):6.3f}  max {max(values):6.3f}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench herding")
    parser.add_argument("--seeds", type=int, default=12)
    parser.add_argument("--ideas", type=int, default=60)
    parser.add_argument("--visitors", type=int, default=3000)
    parser.add_argument("--discover-share", type=float, default=0.3)
    args = parser.parse_args(argv if argv is not None else [])
    top_only = [
        simulate(s, ideas=args.ideas, visitors=args.visitors, discover_share=0.0)
        for s in range(args.seeds)
    ]
    mixed = [
        simulate(s, ideas=args.ideas, visitors=args.visitors, discover_share=args.discover_share)
        for s in range(args.seeds)
    ]
    print(
        f"{args.seeds} seeds, {args.ideas} ideas, {args.visitors} visitors, page of {PAGE}; "
        f"Kendall tau of the final TOP ranking against true quality"
    )
    print(_row("TOP only", [r.tau for r in top_only]))
    print(_row(f"TOP + {args.discover_share:.0%} DISCOVER pages", [r.tau for r in mixed]))
    separated = max(r.tau for r in top_only) < min(r.tau for r in mixed)
    print(f"spreads overlap: {'no' if separated else 'yes'}")
    share = mean(r.discover_votes / r.votes for r in mixed if r.votes)
    seen_top = mean(q for r in mixed for q in r.shown_quality_top)
    seen_discover = mean(q for r in mixed for q in r.shown_quality_discover)
    seen_top_only = mean(q for r in top_only for q in r.shown_quality_top)
    print(
        f"cost: {share:.1%} of votes were cast on DISCOVER pages; mean true quality shown on "
        f"DISCOVER pages {seen_discover:.3f} vs TOP pages {seen_top:.3f} "
        f"(TOP-only traffic saw {seen_top_only:.3f})"
    )
    votes_top = mean(r.votes for r in top_only)
    votes_mixed = mean(r.votes for r in mixed)
    print(f"votes per run: TOP only {votes_top:.0f}, with DISCOVER {votes_mixed:.0f}")

    rules = AlertRules()
    for name, fall_from in (
        ("falling participation (halves from week 6)", 6),
        ("steady participation", None),
    ):
        fired_in: list[int] = []
        for seed in range(args.seeds):
            counts = weekly_active(seed, 10, fall_from=fall_from)
            for week in range(1, len(counts)):
                if participation_dropped(counts[week], counts[week - 1], rules):
                    fired_in.append(week)
                    break
        weeks = sorted(set(fired_in))
        print(
            f"{name}: the participation_dropped rule fired in {len(fired_in)}/{args.seeds} runs"
            + (f", in week(s) {weeks}" if weeks else "")
        )


if __name__ == "__main__":
    main()
