"""Duplicate suggestions on the project's labelled set (tests/data/duplicates_*.json), with the
embedding model and in the lexical fallback, each against floors a little under what
`python -m bench duplicates` reports, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine import embeddings
from engine.settings import reset_settings
from tests import similarity_set
from tests.engine.reputation.support import process_pending

pytestmark = pytest.mark.slow


@pytest.fixture
def lexical_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("COSOURCE_SIMILARITY_EMBEDDINGS", "false")
    reset_settings()
    embeddings.reset()
    yield
    monkeypatch.delenv("COSOURCE_SIMILARITY_EMBEDDINGS")
    reset_settings()
    embeddings.reset()


def test_the_set_is_as_documented() -> None:
    campaigns = similarity_set.load()
    assert len(campaigns) >= 3
    assert all(len(c.ideas) >= 40 for c in campaigns)
    assert sum(len(c.duplicates) for c in campaigns) >= 60
    assert sum(len(c.novel) for c in campaigns) >= 10
    for c in campaigns:
        labels = {i["id"] for i in c.ideas}
        assert len(labels) == len(c.ideas)
        assert {target for _, target in c.duplicates} <= labels


async def test_blend_finds_paraphrased_duplicates(tenant) -> None:
    assert embeddings.embedder() is not None, "the model package is a dependency"
    campaigns = similarity_set.load()
    seeded = await similarity_set.seed(campaigns)
    await process_pending()  # the idea.created consumer makes the vectors, as a worker would

    result = await similarity_set.evaluate(campaigns, similarity_set.engine_ranker(seeded))
    assert result.recall_at_1 >= 0.95
    assert result.recall_at_3 >= 0.98  # 100 % measured; one miss of 99 tolerated
    assert result.novel_false_alarms is not None and result.novel_false_alarms <= 0.1
    assert result.flagged is not None and result.flagged >= 0.7


async def test_lexical_fallback_without_the_model(tenant, lexical_only) -> None:
    assert embeddings.embedder() is None
    campaigns = similarity_set.load()
    seeded = await similarity_set.seed(campaigns)
    await process_pending()

    result = await similarity_set.evaluate(campaigns, similarity_set.engine_ranker(seeded))
    assert result.recall_at_1 >= 0.8
    assert result.recall_at_3 >= 0.9
    assert result.novel_false_alarms is not None and result.novel_false_alarms <= 0.1


async def test_tfidf_baseline_is_what_the_blend_beats() -> None:
    campaigns = similarity_set.load()
    result = await similarity_set.evaluate(campaigns, similarity_set.tfidf_ranker())
    assert 0.5 < result.recall_at_1 < 0.95
    before = await similarity_set.evaluate(campaigns, similarity_set.lexical_ranker(0.2))
    assert before.recall_at_3 < 0.8  # what the floor of 0.2 used to cut
