"""Malformed requests: a 4xx or a coded GraphQL error, never a 500, and nothing written.

One test per kind of input that used to reach a 500 or an unmasked INTERNAL_SERVER_ERROR.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import jwt
import orjson
import pytest

from engine.models import Idea, Member
from tests import factories
from tests.api.conftest import member_token

SUBMIT = """mutation($input: SubmitIdeaInput!) { submitIdea(input: $input) { idea { id }
  userErrors { field code message } } }"""
BAD = {"BAD_REQUEST", "BAD_USER_INPUT"}


def _gid(kind: str, pk: int | str) -> str:
    return base64.b64encode(f"{kind}:{pk}".encode()).decode()


async def _raw(api, body: bytes, **headers: str) -> httpx.Response:
    return await api.client.post(
        "/graphql", content=body, headers={"content-type": "application/json", **headers}
    )


def _assert_clean(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    for leak in ("Traceback", 'File "', "SELECT ", "asyncpg", "sqlite"):
        assert leak not in response.text, response.text


def _code(response: httpx.Response) -> str:
    return str(response.json()["errors"][0]["extensions"]["code"])


@pytest.mark.parametrize("body", [b"1", b"null", b'"str"', b"[]", b"true", b"[1, 2]"])
async def test_a_body_that_is_not_a_json_object(api, tenant, body) -> None:
    response = await _raw(api, body, authorization=f"Bearer {tenant.secret_key}")
    _assert_clean(response)
    assert response.status_code == 400
    assert _code(response) == "BAD_REQUEST"


async def test_variables_nested_too_deep(api, tenant) -> None:
    deep = "[" * 2000 + "]" * 2000
    body = f'{{"query": "query($v: String) {{ ideas(search: $v) {{ totalCount }} }}", "variables": {{"v": {deep}}}}}'
    response = await _raw(api, body.encode(), authorization=f"Bearer {tenant.secret_key}")
    _assert_clean(response)
    assert response.status_code == 400
    assert _code(response) == "BAD_REQUEST"
    # Not too deep for the JSON parser, but still deeper than any input type of the schema.
    medium = "[" * 200 + "]" * 200
    body = f'{{"query": "{{ viewer {{ id }} }}", "variables": {{"v": {medium}}}}}'
    response = await _raw(api, body.encode(), authorization=f"Bearer {tenant.secret_key}")
    assert response.status_code == 400 and _code(response) == "BAD_REQUEST"


async def test_invalid_utf8_in_the_query_and_in_a_title(api, tenant) -> None:
    response = await _raw(
        api, b'{"query": "{ viewer { id \xff\xfe } }"}', authorization=f"Bearer {tenant.secret_key}"
    )
    _assert_clean(response)
    assert response.status_code == 400 and _code(response) == "BAD_REQUEST"
    campaign = await factories.campaign()
    body = orjson.dumps(
        {
            "query": SUBMIT,
            "variables": {
                "input": {"campaignId": _gid("Campaign", campaign.id), "title": "T", "body": "b"}
            },
        }
    ).replace(b'"title":"T"', b'"title":"Bad \xc3\x28 title"')
    response = await _raw(
        api,
        body,
        **{
            "x-cosource-key": tenant.publishable_key,
            "authorization": f"Bearer {member_token(tenant, 'cus_utf8')}",
        },
    )
    _assert_clean(response)
    assert response.status_code == 400 and _code(response) == "BAD_REQUEST"
    assert await Idea.all().count() == 0


async def test_a_signed_member_token_whose_subject_holds_a_nul(api, tenant) -> None:
    before = await Member.all().count()
    token = jwt.encode(
        {"sub": "cus_\x00nul", "exp": int(time.time()) + 600},
        tenant.tenant.identity_secret,
        algorithm="HS256",
    )
    response = await api.post("{ viewer { id } }", pk=tenant.publishable_key, token=token)
    _assert_clean(response)
    assert _code(response) == "UNAUTHENTICATED"
    assert await Member.all().count() == before


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($s: String) { ideas(search: $s) { totalCount } }", {"s": "tea\x00pot"}),
        ("query($s: String!) { campaign(slug: $s) { id } }", {"s": "brew\x00next"}),
        ('{ ideas(search: "tea\\u0000pot") { totalCount } }', None),
        ("query($s: String) { members(search: $s) { totalCount } }", {"s": "a\x00b"}),
    ],
)
async def test_nul_in_search_and_slug(api, tenant, query, variables) -> None:
    response = await api.post(query, variables, sk=tenant.secret_key)
    _assert_clean(response)
    assert _code(response) in BAD, response.text


async def test_lone_surrogates_in_a_title_and_in_search(api, tenant) -> None:
    campaign = await factories.campaign()
    auth = {
        "x-cosource-key": tenant.publishable_key,
        "authorization": f"Bearer {member_token(tenant, 'cus_surrogate')}",
    }
    gid = _gid("Campaign", campaign.id)
    # As a JSON escape in the variables, and as a GraphQL escape in the document itself.
    variables = (
        '{"query": "mutation($input: SubmitIdeaInput!) { submitIdea(input: $input) { idea { id } } }",'
        f' "variables": {{"input": {{"campaignId": "{gid}", "title": "Half \\ud800 a pair", "body": "b"}}}}}}'
    )
    literal = orjson.dumps(
        {
            "query": f'mutation {{ submitIdea(input: {{campaignId: "{gid}", title: "Half \\ud83d pair", body: "b"}}) {{ idea {{ id }} }} }}'
        }
    )
    search = b'{"query": "query($s: String) { ideas(search: $s) { totalCount } }", "variables": {"s": "\\udfff"}}'
    for body, codes in (
        (variables.encode(), BAD),
        (literal, {"GRAPHQL_VALIDATION_FAILED"}),  # graphql-core's lexer refuses the escape
        (search, BAD),
    ):
        response = await _raw(api, body, **auth)
        _assert_clean(response)
        assert _code(response) in codes, response.text
    assert await Idea.all().count() == 0


async def test_node_id_beyond_int64(api, tenant) -> None:
    for pk in ("100000000000000000000", "9223372036854775808", "-1", "0"):
        body = await api.gql(
            "query($i: ID!) { node(id: $i) { id } }", {"i": _gid("Idea", pk)}, sk=tenant.secret_key
        )
        assert body == {"data": {"node": None}}, (pk, body)


async def test_long_filter_strings(api, tenant) -> None:
    response = await api.post(
        "query($t: String) { webhookDeliveries(eventType: $t) { totalCount } }",
        {"t": "x" * 65},
        sk=tenant.secret_key,
    )
    _assert_clean(response)
    assert _code(response) == "BAD_USER_INPUT"
    response = await api.post(
        "query($s: String) { ideas(search: $s) { totalCount } }",
        {"s": "x" * 100_000},
        sk=tenant.secret_key,
    )
    _assert_clean(response)
    assert _code(response) == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    "title", ["   ", "\u200b\u200b\u200b", "\u200b \ufeff \u2060", "\t\n\r ", "Tab\x07bell"]
)
async def test_blank_zero_width_and_control_titles_are_refused(api, tenant, title) -> None:
    campaign = await factories.campaign()
    data = await api.data(
        SUBMIT,
        {"input": {"campaignId": _gid("Campaign", campaign.id), "title": title, "body": "b"}},
        pk=tenant.publishable_key,
        token=member_token(tenant, "cus_blank"),
    )
    assert data["submitIdea"]["idea"] is None
    assert [e["field"] for e in data["submitIdea"]["userErrors"]] == ["title"]
    assert await Idea.all().count() == 0


async def test_titles_are_normalised_and_trimmed(api, tenant) -> None:
    campaign = await factories.campaign()
    data = await api.data(
        SUBMIT.replace("idea { id }", "idea { title }"),
        {
            "input": {
                "campaignId": _gid("Campaign", campaign.id),
                "title": "  Cafe\u0301 au lait\u200b  ",
                "body": " b ",
            }
        },
        pk=tenant.publishable_key,
        token=member_token(tenant, "cus_nfc"),
    )
    assert data["submitIdea"]["idea"] == {"title": "Caf\u00e9 au lait"}


async def test_several_operations_without_a_name(api, tenant) -> None:
    response = await api.post(
        "query A { viewer { id } } query B { campaigns { totalCount } }", sk=tenant.secret_key
    )
    _assert_clean(response)
    body = response.json()
    assert body.get("data") is None
    assert _code(response) in {"BAD_REQUEST", "GRAPHQL_VALIDATION_FAILED"}
    # Named, either operation runs, by POST and by GET.
    document = "query A { viewer { id } } query B { campaigns { totalCount } }"
    auth = {"authorization": f"Bearer {tenant.secret_key}"}
    posted = await api.client.post(
        "/graphql", json={"query": document, "operationName": "B"}, headers=auth
    )
    got = await api.client.get(
        "/graphql", params={"query": document, "operationName": "B"}, headers=auth
    )
    for response in (posted, got):
        assert response.json() == {"data": {"campaigns": {"totalCount": 0}}}


async def test_hundreds_of_operations_in_one_document(api, tenant) -> None:
    document = " ".join(f"query Q{i} {{ viewer {{ id }} }}" for i in range(500))
    response = await api.client.post(
        "/graphql",
        json={"query": document, "operationName": "Q0"},
        headers={"authorization": f"Bearer {tenant.secret_key}"},
    )
    _assert_clean(response)
    assert response.json().get("data") is None
    assert _code(response) in {"BAD_REQUEST", "QUERY_TOO_COMPLEX"}


@pytest.mark.parametrize(
    "extensions",
    [
        {"persistedQuery": [1, "abc"]},
        {"persistedQuery": "abc"},
        {"persistedQuery": 1},
        [1, 2],
        "persisted",
    ],
)
async def test_persisted_query_of_the_wrong_shape(api, tenant, extensions: Any) -> None:
    response = await api.client.post(
        "/graphql",
        json={"query": "{ viewer { id } }", "extensions": extensions},
        headers={"x-cosource-key": tenant.publishable_key},
    )
    _assert_clean(response)
    assert response.status_code == 400
    assert _code(response) in BAD
