"""Query limits refuse abusive documents with a code, and stay cheap for normal ones."""

from __future__ import annotations

from api.schema import build_schema


def test_validation_is_cached_across_requests() -> None:
    # Extensions are built per request; the validation cache must still be shared between them.
    schema = build_schema()
    query = "{ __typename }"
    schema.execute_sync(query)
    validation = next(
        type(e) for e in schema.get_extensions() if type(e).__name__ == "LimitedValidation"
    )
    cache = validation.on_validate.__closure__  # the lru_cache lives in the factory's closure
    assert cache is not None
    validate = next(c.cell_contents for c in cache if hasattr(c.cell_contents, "cache_info"))
    hits = validate.cache_info().hits
    schema.execute_sync(query)
    assert validate.cache_info().hits == hits + 1


async def test_too_deep_and_too_many_aliases_are_refused(api, tenant) -> None:
    inner = "id"
    for _ in range(6):
        inner = f"ideas {{ edges {{ node {{ campaign {{ {inner} }} }} }} }}"
    deep = f"{{ {inner} }}"
    body = await api.gql(deep, sk=tenant.secret_key)
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert "depth" in body["errors"][0]["message"]
    aliases = "{ " + " ".join(f"a{i}: viewer {{ id }}" for i in range(40)) + " }"
    body = await api.gql(aliases, sk=tenant.secret_key)
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert body.get("data") is None
