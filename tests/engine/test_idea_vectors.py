"""Sentence vectors per idea: made by the idea.created consumer, refreshed when the text changes,
backfilled; the model file is checked against its pin; without the model, the lexical fallback."""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from engine import embeddings, idea_vectors
from engine.models import DomainEvent, Idea, IdeaVector
from engine.settings import reset_settings
from engine.similarity import similar_ideas
from engine.tenancy import _current_tenant, tenant_scope
from engine.tenants import create_tenant
from tests import factories
from tests.engine.reputation.support import process_pending


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As on an install without the model package."""
    monkeypatch.setattr(embeddings, "MODEL_PACKAGE", "no_such_model_package")
    embeddings.reset()
    yield
    monkeypatch.undo()
    embeddings.reset()


def test_the_model_file_is_checked_against_its_pin(tmp_path: Path) -> None:
    good = embeddings.load()
    vectors = good.embed(["A sofa bed", "A couch you can sleep on", "Waterproof trainers"])
    assert vectors.shape == (3, embeddings.DIMENSION)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-3)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3

    tampered = tmp_path / "model.onnx"
    shutil.copy(embeddings.model_path(), tampered)
    with tampered.open("r+b") as handle:
        handle.seek(4096)
        byte = handle.read(1)
        handle.seek(4096)
        handle.write(bytes([byte[0] ^ 1]))
    with pytest.raises(embeddings.ModelUnavailable, match="SHA-256"):
        embeddings.load(tampered)
    tokenizer = tmp_path / "tokenizer.json"
    tokenizer.write_text(embeddings.TOKENIZER_PATH.read_text().replace('"[UNK]"', '"[UNKNOWN]"', 1))
    with pytest.raises(embeddings.ModelUnavailable, match="SHA-256"):
        embeddings.load(tokenizer_path=tokenizer)


def test_a_missing_package_or_the_setting_means_no_model(
    no_model: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(embeddings.ModelUnavailable, match="not installed"):
        embeddings.load()
    assert embeddings.embedder() is None
    monkeypatch.undo()
    embeddings.reset()
    assert embeddings.embedder() is not None
    monkeypatch.setenv("COSOURCE_SIMILARITY_EMBEDDINGS", "false")
    reset_settings()
    embeddings.reset()
    try:
        assert embeddings.embedder() is None
    finally:
        monkeypatch.delenv("COSOURCE_SIMILARITY_EMBEDDINGS")
        reset_settings()
        embeddings.reset()


async def test_the_created_event_makes_the_vectors_and_synonyms_are_found(tenant) -> None:
    author = await factories.member()
    campaign = await factories.campaign()
    sofa = await factories.idea(
        author, campaign, title="Sofa bed that is comfortable", body="Guests sleep badly."
    )
    await factories.idea(author, campaign, title="Loyalty card in the app", body="Tenth free")
    assert not await IdeaVector.filter(idea_id=sofa.id).exists()  # never inside the submit
    assert [s.idea.id for s in await similar_ideas(campaign.id, "pull-out couch")] == []

    await process_pending()
    row = await IdeaVector.get(idea_id=sofa.id)
    assert row.model == embeddings.MODEL_ID
    assert idea_vectors.decode(row.vector).shape == (2, embeddings.DIMENSION)
    assert await DomainEvent.filter(processed_at=None).count() == 0
    found = await similar_ideas(campaign.id, "Couch that turns into a comfy bed for guests")
    assert [s.idea.id for s in found] == [sofa.id]
    assert found[0].likely_duplicate
    weak = await similar_ideas(campaign.id, "Couch cushions in more colours")
    assert all(not s.likely_duplicate for s in weak)


async def test_changed_text_is_embedded_again_and_never_served_stale(tenant) -> None:
    author = await factories.member()
    campaign = await factories.campaign()
    idea = await factories.idea(author, campaign, title="Stroller that folds", body="One hand")
    await process_pending()
    before = await IdeaVector.get(idea_id=idea.id)
    assert [s.idea.id for s in await similar_ideas(campaign.id, "pushchair folding")] == [idea.id]

    await Idea.filter(id=idea.id).update(title="Espresso machine descaling", body="Limescale")
    assert await idea_vectors.refresh([await Idea.get(id=idea.id)]) == 1
    after = await IdeaVector.get(idea_id=idea.id)
    assert after.text_hash != before.text_hash and after.vector != before.vector
    assert await idea_vectors.refresh([await Idea.get(id=idea.id)]) == 0  # unchanged: no work
    assert await similar_ideas(campaign.id, "pushchair folding") == []
    assert [s.idea.id for s in await similar_ideas(campaign.id, "descale coffee machine")] == [
        idea.id
    ]


async def test_concurrent_refreshes_write_one_row(tenant) -> None:
    author = await factories.member()
    idea = await factories.idea(author, await factories.campaign(), title="Trainers", body="Wide")
    counts = await asyncio.gather(*(idea_vectors.refresh([idea]) for _ in range(4)))
    assert sum(counts) >= 1
    assert await IdeaVector.filter(idea_id=idea.id).count() == 1


async def test_backfill_fills_what_is_missing_per_tenant(tenant) -> None:
    author = await factories.member()
    campaign = await factories.campaign()
    ideas = [await factories.idea(author, campaign) for _ in range(5)]
    token = _current_tenant.set(None)
    try:
        other = await create_tenant(f"Other brand {secrets.token_hex(4)}")
        with tenant_scope(other.tenant.id):
            elsewhere = await factories.idea(await factories.member(), await factories.campaign())
    finally:
        _current_tenant.reset(token)
    seen: list[tuple[int, int]] = []

    written = await idea_vectors.backfill(
        tenant.tenant.id, batch=2, progress=lambda d, t: seen.append((d, t))
    )
    assert written == 5
    assert seen == [(2, 5), (4, 5), (5, 5)]
    assert await IdeaVector.filter(idea_id__in=[i.id for i in ideas]).count() == 5
    assert not await IdeaVector.unscoped().filter(idea_id=elsewhere.id).exists()
    assert await idea_vectors.backfill(tenant.tenant.id) == 0
    await IdeaVector.filter(idea_id=ideas[0].id).update(model="an-older-model")
    assert await idea_vectors.backfill(tenant.tenant.id) == 1


async def test_without_the_model_suggestions_are_lexical(tenant, no_model) -> None:
    author = await factories.member()
    campaign = await factories.campaign()
    pods = await factories.idea(author, campaign, title="Compostable coffee pods", body="x")
    await factories.idea(author, campaign, title="Sofa bed that is comfortable", body="Guests")
    await process_pending()  # the consumer runs and, with no model, writes nothing
    assert not await IdeaVector.filter(idea_id=pods.id).exists()
    assert await DomainEvent.filter(processed_at=None).count() == 0
    found = await similar_ideas(campaign.id, "compostable pods for the machine")
    assert [s.idea.id for s in found] == [pods.id]
    assert await similar_ideas(campaign.id, "pull-out couch") == []  # words are not enough
    with pytest.raises(embeddings.ModelUnavailable):
        await idea_vectors.backfill(None)


async def test_a_failing_model_never_fails_a_request_or_an_event(
    tenant, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    author = await factories.member()
    campaign = await factories.campaign()
    pods = await factories.idea(author, campaign, title="Compostable coffee pods", body="x")
    await process_pending()
    fresh = await factories.idea(author, campaign, title="Cold brew in cans", body="Commuting")

    def broken(self: embeddings.Embedder, texts: list[str]) -> None:
        raise RuntimeError("onnxruntime fell over")

    monkeypatch.setattr(embeddings.Embedder, "embed", broken)
    await process_pending()  # the event is processed all the same; the idea stays lexical
    assert await DomainEvent.filter(processed_at=None).count() == 0
    assert not await IdeaVector.filter(idea_id=fresh.id).exists()
    found = await similar_ideas(campaign.id, "compostable pods for the machine")
    assert [s.idea.id for s in found] == [pods.id]
    assert "embedding a draft failed" in caplog.text
    assert f"embedding ideas [{fresh.id}] failed" in caplog.text
