"""Exposure: how often each idea was shown, counted cheaply.

A list page shows 20 ideas to every visitor; writing a row per idea per page view would turn every
read into 20 writes. The widget reports what it actually showed (``recordImpressions``), the API
adds those to an in-memory buffer, and the buffer is flushed every few seconds as one batch: one
upsert per (idea, day) into ``idea_exposure`` and one relative UPDATE of ``idea.impressions``. A
process that dies loses at most one flush interval of impressions, which is acceptable for what
they feed (DISCOVER's exploration and the exposure figures of the insights), never for votes.

Tenancy holds in the flush itself: every statement joins on the idea's own tenant, so an id of
another brand's idea counts nothing. See docs/architecture.md ("Discovery and community health").
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable
from datetime import date

from tortoise.transactions import in_transaction

from engine.clock import utcnow

log = logging.getLogger(__name__)

# One report counts each idea once, and at most this many ideas (a page of the widget is 20).
MAX_IDS_PER_REPORT = 100

_UPSERT = {
    "postgres": (
        "INSERT INTO idea_exposure (tenant_id, idea_id, campaign_id, day, impressions) "
        "SELECT i.tenant_id, i.id, i.campaign_id, $3, $4 FROM idea i "
        "WHERE i.id = $2 AND i.tenant_id = $1 "
        "ON CONFLICT (tenant_id, idea_id, day) "
        "DO UPDATE SET impressions = idea_exposure.impressions + EXCLUDED.impressions"
    ),
    "sqlite": (
        "INSERT INTO idea_exposure (tenant_id, idea_id, campaign_id, day, impressions) "
        "SELECT i.tenant_id, i.id, i.campaign_id, ?3, ?4 FROM idea i "
        "WHERE i.id = ?2 AND i.tenant_id = ?1 "
        "ON CONFLICT (tenant_id, idea_id, day) "
        "DO UPDATE SET impressions = idea_exposure.impressions + excluded.impressions"
    ),
}
_BUMP = {
    "postgres": "UPDATE idea SET impressions = impressions + $3 WHERE id = $2 AND tenant_id = $1",
    "sqlite": "UPDATE idea SET impressions = impressions + ?3 WHERE id = ?2 AND tenant_id = ?1",
}


class ExposureBuffer:
    """Impressions counted in memory until the next flush (one per process)."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[int, int, date]] = Counter()
        self._lock = asyncio.Lock()

    def add(self, tenant_id: int, idea_ids: Iterable[int]) -> int:
        """Count one impression of each distinct idea; returns how many were counted."""
        day = utcnow().date()
        distinct = list(dict.fromkeys(idea_ids))[:MAX_IDS_PER_REPORT]
        for idea_id in distinct:
            self._counts[(tenant_id, idea_id, day)] += 1
        return len(distinct)

    @property
    def pending(self) -> int:
        return len(self._counts)

    async def flush(self) -> int:
        """Write what was counted; returns the number of (idea, day) rows touched."""
        async with self._lock:
            if not self._counts:
                return 0
            batch, self._counts = self._counts, Counter()
            upserts = [[t, i, d, n] for (t, i, d), n in batch.items()]
            totals: Counter[tuple[int, int]] = Counter()
            for (tenant_id, idea_id, _), n in batch.items():
                totals[(tenant_id, idea_id)] += n
            bumps = [[t, i, n] for (t, i), n in totals.items()]
            try:
                async with in_transaction() as tx:
                    dialect = tx.capabilities.dialect
                    await tx.execute_many(_UPSERT[dialect], upserts)
                    await tx.execute_many(_BUMP[dialect], bumps)
            except Exception:
                # Put the counts back: the next flush tries again (the database may be restarting).
                self._counts.update(batch)
                raise
            return len(upserts)

    async def run(self, interval: float) -> None:
        """Flush every ``interval`` seconds until cancelled, then once more."""
        try:
            while True:
                await asyncio.sleep(interval)
                try:
                    await self.flush()
                except Exception:
                    log.warning("impression flush failed; kept for the next one", exc_info=True)
        finally:
            if self._counts:
                try:
                    await asyncio.shield(self.flush())
                except Exception:
                    log.warning("final impression flush failed", exc_info=True)


_buffer = ExposureBuffer()


def buffer() -> ExposureBuffer:
    """The process's buffer (the API adds to it; its lifespan runs the flush loop)."""
    return _buffer


def record_impressions(tenant_id: int, idea_ids: Iterable[int]) -> int:
    """The widget showed these ideas once: count them (no database work on the request path)."""
    return _buffer.add(tenant_id, idea_ids)
