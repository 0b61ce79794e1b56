"""The reputation engine: a ledger fed asynchronously by domain events, rules per tenant, levels,
badges, leaderboards and anti-gaming (docs/architecture.md, "Where each concept lives").

Modules: ``consumer`` (the event consumer), ``rules`` (defaults, overrides, validation),
``levels`` (level info and privileges), ``badges`` (rule, brand and monthly badges), ``leaderboard``,
``history``, ``rebuild`` and ``reasons`` (member-facing sentences). Importing the package loads
none of them: whoever needs the consumer graph imports ``engine.reputation.consumer``.
"""
