"""Keeping each idea's sentence vectors: made after the idea is committed, refreshed when its text
changes, backfilled for ideas that have none (docs/architecture.md, "Duplicates").

An idea gets two vectors, its title alone and its title with the start of its body: a member's
draft is often one line, and the closer of the two is the one that counts. They are computed off
the submit transaction, by the consumer of ``idea.created`` (a job, re-run by the sweeper), so a
submission never waits for the model; an idea whose vector is missing or stale is still found
lexically until the consumer or ``cosource similarity backfill`` catches up.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from typing import Any

from tortoise.exceptions import IntegrityError

from engine import embeddings
from engine.models.events import DomainEvent
from engine.models.ideas import Idea
from engine.models.vectors import IdeaVector
from engine.tenancy import tenant_scope

log = logging.getLogger(__name__)

BODY_CHARS = 300
VECTORS_PER_IDEA = 2


def texts_of(title: str, body: str) -> list[str]:
    return [title, f"{title}. {body[:BODY_CHARS]}"]


def text_hash(title: str, body: str) -> str:
    joined = "\x1f".join(texts_of(title, body))
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


def encode(matrix: Any) -> bytes:
    import numpy as np

    return bytes(np.asarray(matrix, dtype="<f2").tobytes())


def decode(blob: bytes) -> Any:
    import numpy as np

    return np.frombuffer(blob, dtype="<f2").astype(np.float32).reshape(-1, embeddings.DIMENSION)


async def refresh(ideas: list[Idea]) -> int:
    """Embed the ideas whose vector is missing, of another model or of older text; returns how
    many were written. Idempotent: a second run finds nothing to do."""
    model = embeddings.embedder()
    if model is None or not ideas:
        return 0
    current = {
        row[0]: (row[1], row[2])
        for row in await IdeaVector.filter(idea_id__in=[i.id for i in ideas]).values_list(
            "idea_id", "model", "text_hash"
        )
    }
    stale = [
        idea
        for idea in ideas
        if current.get(idea.id) != (embeddings.MODEL_ID, text_hash(idea.title, idea.body))
    ]
    if not stale:
        return 0
    texts = [text for idea in stale for text in texts_of(idea.title, idea.body)]
    try:
        # onnxruntime and tokenizers release the GIL: the event loop keeps serving meanwhile.
        matrix = await asyncio.to_thread(model.embed, texts)
    except Exception:
        # Never a reason to re-run the event forever: the idea stays lexical until a backfill.
        log.exception("embedding ideas %s failed", [idea.id for idea in stale])
        return 0
    for n, idea in enumerate(stale):
        values: dict[str, Any] = {
            "model": embeddings.MODEL_ID,
            "text_hash": text_hash(idea.title, idea.body),
            "vector": encode(matrix[n * VECTORS_PER_IDEA : (n + 1) * VECTORS_PER_IDEA]),
        }
        updated = await IdeaVector.filter(idea_id=idea.id).update(**values)
        if not updated:
            try:
                await IdeaVector.create(idea_id=idea.id, tenant_id=idea.tenant_id, **values)
            except IntegrityError:  # a concurrent run inserted it first: same text, same vector
                await IdeaVector.filter(idea_id=idea.id).update(**values)
    return len(stale)


async def on_idea_event(event: DomainEvent) -> None:
    """Consumer of ``idea.created`` (engine.consumers): the new idea's vectors, after commit."""
    if event.idea_id is None:
        return
    idea = await Idea.get_or_none(id=event.idea_id)
    if idea is not None:
        await refresh([idea])


async def backfill(
    tenant_id: int | None = None,
    *,
    batch: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Vectors for every idea (of one tenant, or all) that lacks an up-to-date one; returns how
    many were written. ``progress(done, total)`` is called after each batch. Safe to run while
    the API and workers run, and to run again."""
    if embeddings.embedder() is None:
        raise embeddings.ModelUnavailable(
            "the embedding model is not available (see the log); nothing to backfill"
        )
    query = Idea.unscoped().all()
    if tenant_id is not None:
        query = query.filter(tenant_id=tenant_id)
    ids = [int(i) for i in await query.order_by("id").values_list("id", flat=True)]  # type: ignore[call-overload]
    written = 0
    for start in range(0, len(ids), batch):
        rows = await Idea.unscoped().filter(id__in=ids[start : start + batch]).order_by("id")
        by_tenant: dict[int, list[Idea]] = {}
        for idea in rows:
            by_tenant.setdefault(idea.tenant_id, []).append(idea)
        for owner, ideas in by_tenant.items():
            with tenant_scope(owner):
                written += await refresh(ideas)
        if progress is not None:
            progress(min(start + batch, len(ids)), len(ids))
    return written
