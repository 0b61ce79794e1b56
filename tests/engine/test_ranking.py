"""Sort keys: HOT lets new ideas through, TOP resists one-vote wonders (Wilson, Bayesian)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.models.campaigns import HOT_HALF_LIFE_HOURS
from engine.ranking import Counters, controversy, discover_rank, hot_rank, top_rank

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def _c(up: int = 0, down: int = 0, score_sum: int = 0, score_count: int = 0) -> Counters:
    return Counters(up, down, up - down, score_sum, score_count, 0, 0, 0)


def test_hot_decays_with_age() -> None:
    old_popular = hot_rank(100, NOW - timedelta(days=3))
    new_modest = hot_rank(5, NOW)
    assert new_modest > old_popular  # log10(100)=2 orders, but 3 days is ~5.8 orders of decay
    assert hot_rank(10, NOW) > hot_rank(1, NOW) > hot_rank(-10, NOW)


def test_contest_top_is_bayesian() -> None:
    one_perfect = top_rank(_c(score_sum=5, score_count=1), contest=True)
    many_great = top_rank(_c(score_sum=48 * 10, score_count=100), contest=True)
    assert many_great > one_perfect


def test_ideas_top_is_the_wilson_lower_bound() -> None:
    # Hand-computed: n = 9, p = 7/9, z = 1.96 -> (0.9912 - 0.3454) / 1.4268 = 0.4526.
    assert round(top_rank(_c(up=7, down=2), contest=False), 4) == 0.4526
    assert top_rank(_c(), contest=False) == 0.0
    many_and_liked = top_rank(_c(up=40, down=2), contest=False)
    few_perfect = top_rank(_c(up=3, down=0), contest=False)
    loud_but_split = top_rank(_c(up=100, down=90), contest=False)
    assert many_and_liked > few_perfect and many_and_liked > loud_but_split


def test_controversy_needs_both_sides() -> None:
    assert controversy(10, 0) == 0.0
    assert controversy(10, 10) > controversy(10, 2) > 0


def test_discover_prefers_recent_and_unseen() -> None:
    assert discover_rank(0, NOW) > discover_rank(50, NOW)
    assert discover_rank(0, NOW) > discover_rank(0, NOW - timedelta(days=2))


def test_hot_half_life_is_a_doubling_of_votes() -> None:
    # One half-life of age is worth log10(2): an idea 6 h younger with 1 vote against one with 8.
    older, younger = NOW, NOW + timedelta(hours=6)
    # Hand-computed: younger - older = (6 / H) * log10(2) - log10(8) = (6 / H - 3) * 0.30103.
    assert round(hot_rank(1, younger, 1.0) - hot_rank(8, older, 1.0), 5) == round(3 * 0.30103, 5)
    assert round(hot_rank(1, younger, 100.0) - hot_rank(8, older, 100.0), 5) == round(
        -2.94 * 0.30103, 5
    )
    # At H = 2 h the two tie: 6 h is three half-lives, and 8 votes are three doublings.
    assert abs(hot_rank(1, younger, 2.0) - hot_rank(8, older, 2.0)) < 1e-6


def test_default_half_life_keeps_the_old_hot_keys() -> None:
    # Before half-lives were configurable: log10(net) + seconds since 2025-01-01 / 45 000.
    created = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    legacy = round(2 + (created - datetime(2025, 1, 1, tzinfo=UTC)).total_seconds() / 45_000, 7)
    assert hot_rank(100, created) == legacy
    assert round(HOT_HALF_LIFE_HOURS, 4) == 3.7629
