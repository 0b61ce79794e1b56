"""A document's cost is measured in one memoised pass before anything expensive runs.

The documents here made the server spend seconds to forever on one core before the cost check
(Strawberry's depth and alias limiters expand every fragment spread anew; graphql-core's
overlapping-fields rule compares every pair of repeated fields). They are sent with no key at all:
anyone on the internet can send them. The per-test timeout is the bound: on the old limiters the
first of them did not finish within it.
"""

from __future__ import annotations

import gc

import pytest
from graphql import get_introspection_query, parse

from api.limits import Limits, measure

# The widget's read (api/static/widget.js) at the largest page.
WIDGET_READ = (
    "query Widget($slug: String!, $order: IdeaOrder!, $first: Int!) {"
    " campaign(slug: $slug) { id title description mode isOpen terms { version text }"
    " ideas(orderBy: $order, first: $first) { totalCount edges { node {"
    " id title body status counts { upvotes downvotes netVotes pledgers pledgedQuantity"
    " averageScore scoreCount comments } author { displayName } viewerVote viewerPledge"
    " viewerScore } } } } }"
)
LIMITS = Limits(
    max_depth=12, max_aliases=30, max_complexity=20_000, max_fragments=50, max_spreads=200
)


def doubling(levels: int, base: str = "viewer { id }", on: str = "Query", times: int = 2) -> str:
    """Fragment i spreads fragment i-1 `times` times: the expansion grows as times**levels."""
    parts = [f"fragment F0 on {on} {{ {base} }}"]
    for i in range(1, levels + 1):
        spreads = " ".join(f"...F{i - 1}" for _ in range(times))
        parts.append(f"fragment F{i} on {on} {{ {spreads} }}")
    return f"query Bomb {{ ...F{levels} }}\n" + "\n".join(parts)


BOMBS = {
    "doubling-22": doubling(22),
    "doubling-39 (1.6 kB)": doubling(39),
    "fan-out-4": doubling(30, times=4),
    "aliased": doubling(40, base="a: viewer { id } b: viewer { id }"),
    "nested": 'query Bomb { idea(id: "x") { ...F30 } }\n'
    + "\n".join(
        ["fragment F0 on Idea { id }"]
        + [
            f"fragment F{i} on Idea {{ campaign {{ ideas {{ edges {{ node {{ ...F{i - 1} }} }} }} }} ...F{i - 1} }}"
            for i in range(1, 31)
        ]
    ),
    "repeated-fields": "{ " + " ".join("viewer { id }" for _ in range(400)) + " }",
    # Conflicting unaliased fields reached through spreads: graphql-core's overlap rule took 2.4 s.
    "repeated-through-fragments": " ".join(
        f"fragment R{i} on Query {{ " + " ".join(["viewer { id }"] * 24) + " }" for i in range(16)
    )
    + " { "
    + " ".join(f"...R{i}" for i in range(16))
    + " }",
    "conflicting-arguments": "{ "
    + " ".join(f"ideas(first: {i % 90 + 1}) {{ totalCount }}" for i in range(400))
    + " }",
    "many-fragments": "\n".join(
        ["query Bomb { ...G0 }"]
        + [f"fragment G{i} on Query {{ viewer {{ id }} }}" for i in range(60)]
    ),
    "wide-pages": "{ ideas(first: 100) { edges { node { comments(first: 100) { edges { node { "
    + " ".join(["id", "body", "createdAt"] * 2)
    + " } } } } } } }",
}


@pytest.mark.timeout(20)
@pytest.mark.parametrize("name", list(BOMBS))
async def test_cpu_bombs_are_refused_without_credentials(api, name: str) -> None:
    body = await api.gql(BOMBS[name])
    assert body.get("data") is None
    codes = {e["extensions"]["code"] for e in body["errors"]}
    assert codes == {"QUERY_TOO_COMPLEX"}, body
    # The process is still serving.
    health = await api.client.get("/healthz")
    assert health.status_code == 200


@pytest.mark.timeout(20)
def test_measure_is_linear_in_the_document() -> None:
    # 49 levels of doubling expand to 2**49 fields; measuring must not walk them.
    problems = measure(parse(doubling(49)), LIMITS)
    assert problems == [
        "'Bomb' selects too many fields once fragments and pages are expanded (more than 20000)"
    ]


def test_depth_aliases_and_complexity_are_counted_through_fragments() -> None:
    doc = parse(
        "query Q { ...A ...A }"
        " fragment A on Query { x: viewer { id } ideas(first: 10) { edges { node { id title } } } }"
    )
    tight = Limits(max_depth=2, max_aliases=1, max_complexity=40, max_fragments=5, max_spreads=5)
    assert measure(doc, tight) == [
        "'Q' exceeds maximum operation depth of 2",
        "'Q' uses too many aliases; at most 1",
        "'Q' selects too many fields once fragments and pages are expanded (more than 40)",
    ]
    # depth 3 (ideas > edges > node), 2 aliases, 2 * (x + id + ideas + 10 * (edges + node + id + title)) = 86
    assert measure(doc, Limits(3, 2, 86, 5, 5)) == []


def test_real_documents_are_within_the_limits() -> None:
    assert measure(parse(get_introspection_query(descriptions=True)), LIMITS) == []
    assert measure(parse(WIDGET_READ), LIMITS) == []


async def test_cycles_and_unknown_fragments_are_left_to_graphql_core(api) -> None:
    body = await api.gql(
        "query Q { ...A } fragment A on Query { ...B } fragment B on Query { ...A }"
    )
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    body = await api.gql("query Q { ...Missing }")
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


# Stopping graphql-core's executor mid-flight drops the coroutines it had created but not awaited.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
async def test_a_request_past_the_deadline_is_stopped(api, tenant) -> None:
    view = api.client._transport.app.state.graphql
    view.timeout_seconds = 1e-9
    try:
        response = await api.post("{ campaigns(first: 5) { totalCount } }", sk=tenant.secret_key)
    finally:
        view.timeout_seconds = 30.0
        gc.collect()  # the dropped coroutines warn now, under this test's filters
    assert response.status_code == 503
    assert response.json()["errors"][0]["extensions"]["code"] == "QUERY_TIMEOUT"
