"""Levels: where a total sits between the tenant's thresholds, and what a level unlocks.

Privileges live here so every check reads the same rule: flagging needs ``flag_min_level``;
gated campaigns compare ``Member.level`` with their own ``min_level`` (engine.eligibility).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import DomainError, ErrorCode
from engine.models.members import Member
from engine.reputation.rules import Rules


@dataclass(frozen=True)
class LevelInfo:
    number: int
    name: str
    threshold: int
    next_threshold: int | None
    # 0.0 at this level's threshold, 1.0 at the next one (and at the top level).
    progress: float


def level_for(points: int, rules: Rules) -> int:
    number = 0
    for i, level in enumerate(rules.levels):
        if points >= level.threshold:
            number = i
    return number


def level_info(points: int, number: int, rules: Rules) -> LevelInfo:
    """Describe level ``number`` (the member's stored level) for a member with ``points``."""
    number = max(0, min(number, len(rules.levels) - 1))
    level = rules.levels[number]
    following = rules.levels[number + 1] if number + 1 < len(rules.levels) else None
    if following is None:
        progress = 1.0
    else:
        span = following.threshold - level.threshold
        progress = min(1.0, max(0.0, (points - level.threshold) / span))
    return LevelInfo(
        number=number,
        name=level.name,
        threshold=level.threshold,
        next_threshold=following.threshold if following else None,
        progress=round(progress, 4),
    )


def can_flag(member: Member, rules: Rules) -> bool:
    return member.level >= rules.flag_min_level


def ensure_can_flag(member: Member, rules: Rules) -> None:
    """For the flag operation: new members below the flag level cannot flag (anti-abuse)."""
    if not can_flag(member, rules):
        needed = rules.levels[rules.flag_min_level]
        raise DomainError(
            ErrorCode.LEVEL_TOO_LOW,
            f"flagging needs level {rules.flag_min_level} ({needed.name}, "
            f"{needed.threshold} points); you are level {member.level}",
        )
