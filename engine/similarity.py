"""Finding likely duplicates while a member types: meaning (sentence embeddings) blended with
word and character-trigram overlap (docs/architecture.md, "Duplicates").

Candidates are the campaign's most recent and most supported visible ideas. With the embedding
model (engine.embeddings) an idea scores ``BLEND * cosine + (1 - BLEND) * lexical``, the cosine
being the closer of its two stored vectors (title; title and body start), so "couch" finds
"sofa"; the lexical part (Jaccard on normalised words blended with character trigrams, so
"compostable pods" also finds "pods that compost") breaks ties between near-topic ideas. Without
the model, or for an idea whose vector is not made yet, the lexical score alone is used, mapped
onto the same scale so ``FLOOR`` and ``LIKELY`` mean the same in both modes. The weights and both
thresholds are calibrated on tests/data/duplicates_*.json (``python -m bench duplicates``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from engine import embeddings, idea_vectors
from engine.models.ideas import Idea
from engine.models.vectors import IdeaVector
from engine.sql import fetch
from engine.visibility import PUBLIC, Audience, listed_idea_rule

log = logging.getLogger(__name__)

CANDIDATES = 1000
# Weight of the embedding cosine in the blend; the rest is the lexical score.
BLEND = 0.7
# Below FLOOR an idea is not suggested at all; at LIKELY or above it is a "likely duplicate".
FLOOR = 0.33
LIKELY = 0.48
# The lexical score's own calibrated points, mapped onto FLOOR and LIKELY.
LEXICAL_FLOOR = 0.10
LEXICAL_LIKELY = 0.20
# Ideas whose cosine is among the best SHORTLIST get the (costlier, per idea) lexical score.
SHORTLIST = 20
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
    likely_duplicate: bool


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
    """The lexical score of two texts, 0-1."""
    a, b = _words(text), _words(other)
    return round(0.5 * _jaccard(a, b) + 0.5 * _jaccard(_trigrams(a), _trigrams(b)), 4)


class _Features:
    """An idea's lexical features, computed once per text and kept (see _cache)."""

    __slots__ = ("grams", "key", "title_grams", "title_words", "words")

    def __init__(self, title: str, body: str) -> None:
        self.key = (title, body[:300])
        self.words = _words(f"{title} {body[:300]}")
        self.grams = _trigrams(self.words)
        self.title_words = _words(title)
        self.title_grams = _trigrams(self.title_words)


def lexical(words: frozenset[str], grams: frozenset[str], features: _Features) -> float:
    """A draft's lexical score against an idea: the better of its title alone and its title with
    the start of its body (a one-line draft should not lose to a long body)."""
    return max(
        0.5 * _jaccard(words, features.words) + 0.5 * _jaccard(grams, features.grams),
        0.5 * _jaccard(words, features.title_words) + 0.5 * _jaccard(grams, features.title_grams),
    )


def lexical_on_scale(value: float) -> float:
    """The lexical score mapped linearly onto the blend's scale, its calibrated floor and cut
    landing on FLOOR and LIKELY."""
    slope = (LIKELY - FLOOR) / (LEXICAL_LIKELY - LEXICAL_FLOOR)
    return min(1.0, max(0.0, FLOOR + (value - LEXICAL_FLOOR) * slope))


def blend(cosine: float, lexical_score: float) -> float:
    return BLEND * cosine + (1 - BLEND) * lexical_score


class _Cache:
    """Per-process caches of idea vectors and lexical features, by idea id (ids are unique across
    tenants). A vector is reused only while its row's text hash is the one the candidate query
    returns, features only while the text is the same: never stale, only cheaper."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.vectors: OrderedDict[int, tuple[str, Any]] = OrderedDict()
        self.features: OrderedDict[int, _Features] = OrderedDict()

    def vector(self, idea_id: int, stamp: str) -> Any | None:
        hit = self.vectors.get(idea_id)
        if hit is None or hit[0] != stamp:
            return None
        self.vectors.move_to_end(idea_id)
        return hit[1]

    def put_vector(self, idea_id: int, stamp: str, matrix: Any) -> None:
        self.vectors[idea_id] = (stamp, matrix)
        self.vectors.move_to_end(idea_id)
        while len(self.vectors) > self.size:
            self.vectors.popitem(last=False)

    def features_of(self, idea_id: int, title: str, body: str) -> _Features:
        hit = self.features.get(idea_id)
        if hit is not None and hit.key == (title, body[:300]):
            self.features.move_to_end(idea_id)
            return hit
        made = self.features[idea_id] = _Features(title, body)
        while len(self.features) > self.size:
            self.features.popitem(last=False)
        return made


# 20 000 ideas: ~30 MB of float16 vectors (as float32 in memory, ~60 MB) per process.
_cache = _Cache(20_000)


_CANDIDATES_SQL = """
SELECT i.id, v.model, v.text_hash FROM idea i LEFT JOIN idea_vector v ON v.idea_id = i.id
WHERE {visible} AND i.campaign_id = :campaign
ORDER BY {order} LIMIT :limit"""


async def _candidates(campaign_id: int, audience: Audience) -> dict[int, str | None]:
    """The ideas this viewer may see listed (engine.visibility, tenant included) to compare, most
    recent then most supported, each with the text hash of its vector by the current model (None:
    no usable vector yet). Hand-written: this runs on every keystroke of a draft, and the ORM's
    row conversion was a third of its time."""
    params: dict[str, Any] = {"campaign": campaign_id}

    def param(value: Any) -> str:
        name = "rule_" + "".join(chr(97 + int(d)) for d in str(len(params)))
        params[name] = value
        return f":{name}"

    visible = listed_idea_rule(audience).sql("idea", "i", param)
    recent = _CANDIDATES_SQL.format(visible=visible, order="i.id DESC")
    rows = await fetch(recent, limit=CANDIDATES + 1, **params)
    if len(rows) > CANDIDATES:  # a bigger campaign: its most supported ideas count too
        top = _CANDIDATES_SQL.format(visible=visible, order="i.top_rank DESC, i.id DESC")
        rows = rows[:CANDIDATES] + await fetch(top, limit=CANDIDATES // 2, **params)
    found: dict[int, str | None] = {}
    for row in rows:
        found[int(row["id"])] = row["text_hash"] if row["model"] == embeddings.MODEL_ID else None
    return found


async def _cosines(query: Any, stamps: dict[int, str]) -> Any:
    """The closer-vector cosine of each idea in ``stamps`` to the query vector, in their order."""
    import numpy as np

    missing = [i for i, stamp in stamps.items() if _cache.vector(i, stamp) is None]
    if missing:
        for idea_id, stamp, blob in await IdeaVector.filter(idea_id__in=missing).values_list(
            "idea_id", "text_hash", "vector"
        ):
            _cache.put_vector(int(idea_id), stamp, idea_vectors.decode(bytes(blob)))
    # A row rewritten between the two queries no longer matches its stamp: it scores 0 this once.
    zero = np.zeros((idea_vectors.VECTORS_PER_IDEA, embeddings.DIMENSION), dtype=np.float32)
    matrices = [_cache.vector(i, s) for i, s in stamps.items()]
    stacked = np.stack([m if m is not None else zero for m in matrices])
    return (stacked @ query).max(axis=1)


async def _query_vector(embedding: asyncio.Future[Any] | None) -> Any | None:
    """The draft's vector, or None (no model; or it failed, and this request is lexical)."""
    if embedding is None:
        return None
    try:
        return (await embedding)[0]
    except Exception:
        log.exception("embedding a draft failed; answering with the lexical score")
        return None


async def similar_ideas(
    campaign_id: int, text: str, audience: Audience = PUBLIC, limit: int = 5
) -> list[Similar]:
    """At most ``limit`` ideas like ``text`` among those ``audience`` may see listed, best first."""
    text = text[:2000]
    words = _words(text)
    if not words:
        return []
    grams = _trigrams(words)
    model = embeddings.embedder()
    # The draft is embedded on a thread while the candidates are read.
    embedding = asyncio.ensure_future(asyncio.to_thread(model.embed, [text])) if model else None
    try:
        candidates = await _candidates(campaign_id, audience)
        stamps = {i: s for i, s in candidates.items() if s is not None}
        cosines: dict[int, float] = {}
        query = await _query_vector(embedding) if stamps else None
        if query is not None:
            import numpy as np

            best = await _cosines(query, stamps)
            order = list(stamps)
            cosines = {order[k]: float(best[k]) for k in np.argsort(-best)[:SHORTLIST]}
        else:
            stamps = {}
    finally:
        if embedding is not None and not embedding.done():
            embedding.cancel()
        elif embedding is not None and not embedding.cancelled():
            embedding.exception()  # retrieved: a failure was logged above or is moot
    # The shortlist by meaning, and every idea without a vector, get the lexical score; ideas
    # whose vector was compared and found far are not candidates any more.
    lexical_ids = [i for i in candidates if i in cosines or i not in stamps]
    if len(lexical_ids) <= 2 * SHORTLIST:  # the usual case: one query, rows and text together
        found = await Idea.filter(id__in=lexical_ids)
        texts = [(idea.id, idea.title, idea.body) for idea in found]
    else:  # no model or few vectors: text first, the rows of the best only
        texts = await Idea.filter(id__in=lexical_ids).values_list("id", "title", "body")
    scored: list[tuple[float, int]] = []
    for idea_id, title, body in texts:
        value = lexical(words, grams, _cache.features_of(int(idea_id), title, body))
        cosine = cosines.get(int(idea_id))
        total = lexical_on_scale(value) if cosine is None else blend(cosine, value)
        if total >= FLOOR:
            scored.append((round(total, 4), int(idea_id)))
    scored.sort(key=lambda s: (-s[0], -s[1]))
    best_ids = scored[:limit]
    if len(lexical_ids) > 2 * SHORTLIST:
        found = await Idea.filter(id__in=[i for _, i in best_ids])
    rows = {idea.id: idea for idea in found}
    return [Similar(rows[i], value, value >= LIKELY) for value, i in best_ids if i in rows]
