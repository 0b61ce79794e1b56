"""The herding simulation's own arithmetic (its figures are printed by `python -m bench herding`)."""

from __future__ import annotations

from bench.herding import kendall_tau, simulate, weekly_active


def test_kendall_tau_on_hand_computed_rankings() -> None:
    assert kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert kendall_tau([1, 2, 3, 4], [40, 30, 20, 10]) == -1.0
    # 5 concordant, 1 discordant pair of 6: (5 - 1) / 6.
    assert round(kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]), 4) == round(4 / 6, 4)


def test_the_simulation_is_reproducible_and_explores() -> None:
    a = simulate(3, ideas=20, visitors=300, discover_share=0.5)
    b = simulate(3, ideas=20, visitors=300, discover_share=0.5)
    assert (a.tau, a.votes, a.discover_votes) == (b.tau, b.votes, b.discover_votes)
    assert 0 < a.discover_votes < a.votes
    assert simulate(3, ideas=20, visitors=300, discover_share=0.0).discover_votes == 0


def test_weekly_scenarios() -> None:
    falling = weekly_active(1, 10, fall_from=6)
    assert max(falling[6:]) < min(falling[:6])
    assert len(weekly_active(1, 10, fall_from=None)) == 10
