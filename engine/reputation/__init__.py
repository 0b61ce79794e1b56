"""The reputation engine: a ledger fed asynchronously by domain events, rules per tenant, levels,
badges, leaderboards and anti-gaming (DESIGN.md, "Reputation engine").

Public surface: ``consume`` (the event consumer), ``rules`` (defaults, overrides, validation),
``levels`` (level info and privileges), ``badges`` (rule, brand and monthly badges), ``leaderboard``,
``history``, ``rebuild`` and ``reasons`` (member-facing sentences).
"""

from engine.reputation.consumer import consume

__all__ = ["consume"]
