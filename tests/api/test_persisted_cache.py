"""Persisted queries, the anonymous result cache, ETags, and invalidation by writes."""

from __future__ import annotations

from typing import Any

import orjson

from api.persisted import digest
from engine.tenancy import _current_tenant
from engine.tenants import create_tenant
from tests import factories
from tests.api.conftest import member_token
from tests.conftest import count_queries

HOT = """query Hot($c: ID!) { ideas(campaignId: $c, first: 20, orderBy: TOP) {
  edges { node { id title counts { netVotes } author { displayName } } } } }"""
HASH = digest(HOT)


def _params(variables: dict, query_hash: str = HASH) -> dict:  # type: ignore[type-arg]
    return {
        "variables": orjson.dumps(variables).decode(),
        "extensions": orjson.dumps(
            {"persistedQuery": {"version": 1, "sha256Hash": query_hash}}
        ).decode(),
        "operationName": "Hot",
    }


async def _setup(api, tenant):
    author, voter = await factories.members(2)
    campaign = await factories.campaign()
    idea = await factories.idea(author, campaign, title="Cold brew cans")
    gid = (
        await api.data(
            "query($s: String!) { campaign(slug: $s) { id } }",
            {"s": campaign.slug},
            sk=tenant.secret_key,
        )
    )["campaign"]["id"]
    # Consumer jobs (reputation) commit after these writes and drop cached reads: let them finish.
    await api.background.queue.drain()
    return gid, idea, voter


async def _register(api, pk: str, gid: str):
    return await api.client.post(
        "/graphql",
        headers={"X-Cosource-Key": pk},
        json={
            "query": HOT,
            "variables": {"c": gid},
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": HASH}},
        },
    )


async def _get(api, pk: str, variables: dict[str, Any], **headers: str):
    return await api.client.get(
        "/graphql", params=_params(variables), headers={"X-Cosource-Key": pk, **headers}
    )


async def test_apq_register_then_get_by_hash(api, tenant) -> None:
    gid, _, _ = await _setup(api, tenant)
    pk = tenant.publishable_key
    missing = await _get(api, pk, {"c": gid})
    assert missing.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    registered = await api.client.post(
        "/graphql",
        headers={"X-Cosource-Key": pk},
        json={
            "query": HOT,
            "variables": {"c": gid},
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": HASH}},
        },
    )
    assert registered.status_code == 200
    assert registered.json()["data"]["ideas"]["edges"][0]["node"]["title"] == "Cold brew cans"
    by_hash = await _get(api, pk, {"c": gid})
    assert by_hash.status_code == 200
    assert by_hash.json() == registered.json()
    assert by_hash.headers["etag"] and "public" in by_hash.headers["cache-control"]
    assert "X-Cosource-Key" in by_hash.headers["vary"]


async def test_hash_mismatch_is_refused(api, tenant) -> None:
    response = await api.client.post(
        "/graphql",
        headers={"X-Cosource-Key": tenant.publishable_key},
        json={
            "query": HOT,
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}},
        },
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_cache_hit_runs_no_sql_and_revalidates_with_304(api, tenant) -> None:
    gid, _, _ = await _setup(api, tenant)
    pk = tenant.publishable_key
    await _register(api, pk, gid)
    first = await _get(api, pk, {"c": gid})
    with count_queries() as log:
        second = await _get(api, pk, {"c": gid})
    assert log.count == 0, log.statements
    assert second.content == first.content
    not_modified = await _get(api, pk, {"c": gid}, **{"If-None-Match": first.headers["etag"]})
    assert not_modified.status_code == 304 and not_modified.content == b""


async def test_a_vote_invalidates_the_cached_read(api, tenant) -> None:
    gid, _idea, voter = await _setup(api, tenant)
    pk = tenant.publishable_key
    await _register(api, pk, gid)
    before = await _get(api, pk, {"c": gid})
    assert before.json()["data"]["ideas"]["edges"][0]["node"]["counts"]["netVotes"] == 0
    idea_gid = before.json()["data"]["ideas"]["edges"][0]["node"]["id"]
    voted = await api.data(
        """mutation($i: ID!) { vote(input: {ideaId: $i, value: UP}) {
                                userErrors { code } } }""",
        {"i": idea_gid},
        pk=pk,
        token=member_token(tenant, voter.external_id),
    )
    assert voted["vote"]["userErrors"] == []
    after = await _get(api, pk, {"c": gid}, **{"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    assert after.json()["data"]["ideas"]["edges"][0]["node"]["counts"]["netVotes"] == 1
    assert after.headers["etag"] != before.headers["etag"]


async def test_member_reads_are_never_cached(api, tenant) -> None:
    gid, _, voter = await _setup(api, tenant)
    pk = tenant.publishable_key
    token = member_token(tenant, voter.external_id)
    for _ in range(2):
        with count_queries() as log:
            response = await api.client.post(
                "/graphql",
                headers={"X-Cosource-Key": pk, "Authorization": f"Bearer {token}"},
                json={
                    "query": HOT,
                    "variables": {"c": gid},
                    "extensions": {"persistedQuery": {"version": 1, "sha256Hash": HASH}},
                },
            )
        assert response.status_code == 200 and "etag" not in response.headers
        assert log.count > 0


async def test_same_hash_other_tenant_gets_its_own_data(api, tenant) -> None:
    gid, _, _ = await _setup(api, tenant)
    await api.client.post(
        "/graphql",
        headers={"X-Cosource-Key": tenant.publishable_key},
        json={
            "query": HOT,
            "variables": {"c": gid},
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": HASH}},
        },
    )
    assert (await _get(api, tenant.publishable_key, {"c": gid})).json()["data"]["ideas"]["edges"]
    token = _current_tenant.set(None)
    try:
        other = await create_tenant("Other brand for cache")
    finally:
        _current_tenant.reset(token)
    response = await _get(api, other.publishable_key, {"c": gid})
    assert response.json()["data"]["ideas"]["edges"] == []


async def test_persisted_mutations_are_not_cacheable(api, tenant) -> None:
    mutation = 'mutation M { createCampaign(input: {title: "Via APQ"}) { campaign { slug } userErrors { code } } }'
    body = {
        "query": mutation,
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest(mutation)}},
    }
    first = await api.client.post(
        "/graphql", headers={"Authorization": f"Bearer {tenant.secret_key}"}, json=body
    )
    assert first.json()["data"]["createCampaign"]["campaign"]["slug"] == "via-apq"
    again = await api.client.post(
        "/graphql", headers={"Authorization": f"Bearer {tenant.secret_key}"}, json=body
    )
    assert again.json()["data"]["createCampaign"]["userErrors"] == [{"code": "ALREADY_EXISTS"}]
    via_get = await api.client.get(
        "/graphql",
        params={"extensions": orjson.dumps(body["extensions"]).decode()},
        headers={"Authorization": f"Bearer {tenant.secret_key}"},
    )
    assert via_get.status_code in (400, 405)  # no mutations over GET


async def test_browsers_get_graphiql(api, tenant) -> None:
    page = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
