"""Duplicates bench: how well similarIdeas finds paraphrased duplicates, and how fast it answers.

Prints, on the labelled set (tests/data/duplicates_*.json), recall@1, recall@3 and the share of
novel ideas whose first suggestion is marked a likely duplicate (at the calibrated cut), for the
blend (embedding cosine + lexical), the lexical fallback and a plain TF-IDF baseline; then the
p50/p95 latency of similarIdeas (a GraphQL request through the ASGI app, in process) on a campaign
of 1 000 ideas, with the model and in the fallback. Goals (issue 10): recall@1 >= 95 %,
recall@3 = 100 %, at most 1 in 10 novel ideas above the cut, p50 < 30 ms.

    python -m bench duplicates      # PostgreSQL from COSOURCE_BENCH_PG, a throwaway database

Knobs: COSOURCE_BENCH_SIMILAR_IDEAS (1000), COSOURCE_BENCH_RUNS (200 requests per mode).
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable

import httpx
from tortoise import Tortoise

from bench.harness import create_database, drop_database, pg_url
from engine import embeddings, idea_vectors
from engine.settings import get_settings, reset_settings
from engine.tenancy import tenant_scope
from engine.tenants import create_tenant
from runtime import composition
from tests import similarity_set

IDEAS = int(os.environ.get("COSOURCE_BENCH_SIMILAR_IDEAS", "1000"))
RUNS = int(os.environ.get("COSOURCE_BENCH_RUNS", "200"))
QUERY = """query($c: ID!, $t: String!) {
  similarIdeas(campaignId: $c, text: $t) { score likelyDuplicate idea { id title } } }"""


def _lexical_only(on: bool) -> None:
    if on:
        os.environ["COSOURCE_SIMILARITY_EMBEDDINGS"] = "false"
    else:
        os.environ.pop("COSOURCE_SIMILARITY_EMBEDDINGS", None)
    reset_settings()
    embeddings.reset()


def _pct(value: float | None) -> str:
    return "     -" if value is None else f"{100 * value:5.1f}%"


def _row(name: str, result: similarity_set.Result) -> str:
    return (
        f"{name:<28} recall@1 {_pct(result.recall_at_1)}  recall@3 {_pct(result.recall_at_3)}  "
        f"novel above cut {_pct(result.novel_false_alarms)}  duplicates flagged "
        f"{_pct(result.flagged)}"
    )


def _filler(count: int, seed: int = 7) -> list[tuple[str, str]]:
    """Plausible ideas for the latency campaign (the labelled ideas, then varied recombinations)."""
    rng = random.Random(seed)
    ideas = [(i["title"], i["body"]) for c in similarity_set.load() for i in c.ideas]
    words = [w for title, body in ideas for w in f"{title} {body}".split() if len(w) > 3]
    while len(ideas) < count:
        title = " ".join(rng.sample(words, rng.randint(4, 8))).capitalize()
        body = " ".join(rng.sample(words, rng.randint(12, 30)))
        ideas.append((title, body))
    return ideas[:count]


async def _latency(ask: Callable[[str], Awaitable[None]], texts: list[str]) -> tuple[float, float]:
    for text in texts[:10]:  # warm: model loaded, statements prepared
        await ask(text)
    times = []
    for n in range(RUNS):
        started = time.perf_counter()
        await ask(texts[n % len(texts)])
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


async def run(url: str) -> None:
    from api.app import configure_view, create_app
    from runtime.background import start_background
    from tests import factories

    await composition.migrate(url)
    await Tortoise.close_connections()
    await composition.init_db(url)
    brand = await create_tenant("Duplicates bench")
    campaigns = similarity_set.load()
    with tenant_scope(brand.tenant.id):
        seeded = await similarity_set.seed(campaigns)
        started = time.perf_counter()
        embedded = await idea_vectors.backfill(brand.tenant.id)
        per_idea = (time.perf_counter() - started) * 1000 / max(embedded, 1)
        print(
            f"labelled set: {len(campaigns)} campaigns, {embedded} ideas embedded "
            f"({per_idea:.1f} ms per idea, 2 texts)",
            flush=True,
        )
        ranker = similarity_set.engine_ranker(seeded)
        blend = await similarity_set.evaluate(campaigns, ranker)
        _lexical_only(True)
        lexical = await similarity_set.evaluate(campaigns, ranker)
        _lexical_only(False)
    tfidf = await similarity_set.evaluate(campaigns, similarity_set.tfidf_ranker())
    before = await similarity_set.evaluate(campaigns, similarity_set.lexical_ranker(0.2))
    print(f"{blend.duplicates} duplicates, {blend.novel} novel ideas")
    print(_row("blend (MiniLM + lexical)", blend))
    print(_row("lexical fallback", lexical))
    print(_row("tf-idf baseline (no cut)", tfidf))
    print(_row("lexical, floor 0.20 (before)", before))

    with tenant_scope(brand.tenant.id):
        author = await factories.member()
        big = await factories.campaign(title="Latency")
        for title, body in _filler(IDEAS):
            await factories.idea(author, big, title=title[:140], body=body)
        await idea_vectors.backfill(brand.tenant.id)
    texts = [text for c in campaigns for text, _ in c.duplicates] + [
        text for c in campaigns for text in c.novel
    ]
    random.Random(3).shuffle(texts)
    app = create_app(manage_db=False)
    background = await start_background()
    app.state.background = background
    configure_view(app.state.graphql, background, get_settings())
    gid = base64.b64encode(f"Campaign:{big.id}".encode()).decode()
    headers = {"X-Cosource-Key": brand.publishable_key}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

        async def ask(text: str) -> None:
            response = await client.post(
                "/graphql",
                json={"query": QUERY, "variables": {"c": gid, "t": text}},
                headers=headers,
            )
            body = response.json()
            assert response.status_code == 200 and "errors" not in body, body

        p50, p95 = await _latency(ask, texts)
        print(
            f"similarIdeas on {IDEAS} ideas, blend:            p50 {p50:5.1f} ms  p95 {p95:5.1f} ms"
        )
        _lexical_only(True)
        p50, p95 = await _latency(ask, texts)
        _lexical_only(False)
        print(
            f"similarIdeas on {IDEAS} ideas, lexical fallback: p50 {p50:5.1f} ms  p95 {p95:5.1f} ms"
        )
    await background.close()
    await Tortoise.close_connections()


def main() -> None:
    name = asyncio.run(create_database())
    try:
        asyncio.run(run(pg_url(name)))
    finally:
        asyncio.run(drop_database(name))


if __name__ == "__main__":
    main()
