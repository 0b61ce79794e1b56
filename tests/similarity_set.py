"""The labelled duplicate set (tests/data/duplicates_*.json) and how suggestions are scored on it.

Each file is one campaign: 40+ ideas with near-topic distractors, paraphrased duplicates of some of
them (synonyms such as couch/sofa, pushchair/stroller, trainers/sneakers; abbreviations; another
word order), each labelled with the idea it repeats, and novel ideas that repeat none. Used by
tests/engine/test_similarity_set.py and ``python -m bench duplicates``.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("data")


@dataclass(frozen=True)
class LabelledCampaign:
    slug: str
    title: str
    ideas: list[dict[str, str]]
    duplicates: list[tuple[str, str]]  # (text, id of the idea it repeats)
    novel: list[str]


def load() -> list[LabelledCampaign]:
    campaigns = []
    for path in sorted(DATA.glob("duplicates_*.json")):
        raw: dict[str, Any] = json.loads(path.read_text())
        campaigns.append(
            LabelledCampaign(
                slug=raw["slug"],
                title=raw["title"],
                ideas=raw["ideas"],
                duplicates=[(d["text"], d["of"]) for d in raw["duplicates"]],
                novel=raw["novel"],
            )
        )
    return campaigns


@dataclass(frozen=True)
class Result:
    recall_at_1: float
    recall_at_3: float
    # Share of novel ideas whose first suggestion is marked a likely duplicate (None: no cut).
    novel_false_alarms: float | None
    # Share of duplicates whose first suggestion is the right idea and marked a likely duplicate.
    flagged: float | None
    duplicates: int
    novel: int


# ranked(campaign, text) -> [(idea label, likely duplicate)], best first.
Ranker = Callable[[LabelledCampaign, str], Awaitable[Sequence[tuple[str, bool]]]]


async def evaluate(campaigns: list[LabelledCampaign], ranked: Ranker) -> Result:
    first = third = flagged = alarms = dups = novel = 0
    for campaign in campaigns:
        for text, label in campaign.duplicates:
            found = list(await ranked(campaign, text))
            dups += 1
            first += bool(found) and found[0][0] == label
            third += label in [f[0] for f in found[:3]]
            flagged += bool(found) and found[0] == (label, True)
        for text in campaign.novel:
            found = list(await ranked(campaign, text))
            novel += 1
            alarms += bool(found) and found[0][1]
    return Result(first / dups, third / dups, alarms / novel, flagged / dups, dups, novel)


_TOKEN = re.compile(r"[a-z0-9]+")


def tfidf_ranker() -> Ranker:
    """Plain TF-IDF: lower-cased word counts weighted by inverse document frequency over the
    campaign's ideas (title and body), ranked by cosine. The baseline the blend must beat."""
    cache: dict[str, tuple[dict[str, float], list[tuple[str, dict[str, float]]]]] = {}

    def vector(tokens: list[str], idf: dict[str, float]) -> dict[str, float]:
        counts = Counter(t for t in tokens if t in idf)
        weights = {t: c * idf[t] for t, c in counts.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        return {t: w / norm for t, w in weights.items()}

    def index(campaign: LabelledCampaign) -> tuple[dict[str, float], list[Any]]:
        if campaign.slug not in cache:
            docs = [_TOKEN.findall(f"{i['title']} {i['body']}".lower()) for i in campaign.ideas]
            df = Counter(t for doc in docs for t in set(doc))
            idf = {t: math.log((1 + len(docs)) / (1 + n)) + 1 for t, n in df.items()}
            vectors = [
                (i["id"], vector(doc, idf)) for i, doc in zip(campaign.ideas, docs, strict=True)
            ]
            cache[campaign.slug] = (idf, vectors)
        return cache[campaign.slug]

    async def ranked(campaign: LabelledCampaign, text: str) -> list[tuple[str, bool]]:
        idf, vectors = index(campaign)
        query = vector(_TOKEN.findall(text.lower()), idf)
        scores = [(sum(w * v.get(t, 0.0) for t, w in query.items()), label) for label, v in vectors]
        return [(label, False) for score, label in sorted(scores, reverse=True) if score > 0]

    return ranked


@dataclass(frozen=True)
class Seeded:
    campaign_id: int
    labels: dict[int, str]  # idea id -> its label in the set


async def seed(campaigns: list[LabelledCampaign]) -> dict[str, Seeded]:
    """Each labelled campaign as a real campaign of the tenant in scope, ideas submitted through
    the engine (the caller then processes the events, or backfills, to make the vectors)."""
    from tests import factories

    author = await factories.member()
    seeded = {}
    for labelled in campaigns:
        campaign = await factories.campaign(title=labelled.title)
        labels = {}
        for item in labelled.ideas:
            idea = await factories.idea(author, campaign, title=item["title"], body=item["body"])
            labels[idea.id] = item["id"]
        seeded[labelled.slug] = Seeded(campaign.id, labels)
    return seeded


def engine_ranker(seeded: dict[str, Seeded]) -> Ranker:
    """Suggestions as similarIdeas makes them (engine.similarity.similar_ideas)."""
    from engine.similarity import similar_ideas

    async def ranked(campaign: LabelledCampaign, text: str) -> list[tuple[str, bool]]:
        target = seeded[campaign.slug]
        found = await similar_ideas(target.campaign_id, text)
        return [(target.labels[s.idea.id], s.likely_duplicate) for s in found]

    return ranked


def lexical_ranker(floor: float) -> Ranker:
    """The lexical score alone with a plain floor and no cut: what similarIdeas did before the
    embeddings (floor 0.2), for comparison."""
    from engine.similarity import _Features, _trigrams, _words, lexical

    async def ranked(campaign: LabelledCampaign, text: str) -> list[tuple[str, bool]]:
        words = _words(text)
        grams = _trigrams(words)
        scores = [
            (lexical(words, grams, _Features(i["title"], i["body"])), i["id"])
            for i in campaign.ideas
        ]
        return [(label, False) for value, label in sorted(scores, reverse=True) if value >= floor]

    return ranked
