"""Finding likely duplicates while a member types: word and character-trigram overlap.

Portable (SQLite and PostgreSQL alike) and cheap: candidates are the campaign's most recent and most
supported ideas, scored in Python with Jaccard similarity on normalised word sets blended with
character trigrams, so "compostable pods" also finds "pods that compost".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from engine.models.ideas import Idea

CANDIDATES = 1000
MIN_SCORE = 0.2
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "i",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "please",
        "so",
        "that",
        "the",
        "their",
        "there",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "which",
        "with",
        "would",
        "you",
        "your",
    ]
)


@dataclass(frozen=True)
class Similar:
    idea: Idea
    score: float


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _words(text: str) -> frozenset[str]:
    return frozenset(w.rstrip("s") for w in _WORD.findall(_normal(text)) if w not in _STOP)


def _trigrams(words: frozenset[str]) -> frozenset[str]:
    grams: set[str] = set()
    for word in words:
        padded = f"  {word} "
        grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return frozenset(grams)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def score(text: str, other: str) -> float:
    a, b = _words(text), _words(other)
    return round(0.5 * _jaccard(a, b) + 0.5 * _jaccard(_trigrams(a), _trigrams(b)), 4)


async def similar_ideas(campaign_id: int, text: str, limit: int = 5) -> list[Similar]:
    words = _words(text[:2000])
    if not words:
        return []
    grams = _trigrams(words)
    recent = (
        await Idea.filter(campaign_id=campaign_id, hidden=False, merged_into_id=None)
        .order_by("-id")
        .limit(CANDIDATES)
    )
    top = (
        await Idea.filter(campaign_id=campaign_id, hidden=False, merged_into_id=None)
        .order_by("-top_rank")
        .limit(CANDIDATES // 2)
    )
    candidates = {idea.id: idea for idea in [*recent, *top]}
    scored = []
    for idea in candidates.values():
        other = _words(f"{idea.title} {idea.body[:300]}")
        title_words = _words(idea.title)
        value = max(
            0.5 * _jaccard(words, other) + 0.5 * _jaccard(grams, _trigrams(other)),
            0.5 * _jaccard(words, title_words) + 0.5 * _jaccard(grams, _trigrams(title_words)),
        )
        if value >= MIN_SCORE:
            scored.append(Similar(idea, round(value, 4)))
    scored.sort(key=lambda s: (-s.score, -s.idea.id))
    return scored[:limit]
