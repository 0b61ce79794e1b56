"""Query limits refuse abusive documents with a code, and stay cheap for normal ones."""

from __future__ import annotations

from strawberry.extensions import AddValidationRules

from api.schema import build_schema


def test_validation_rules_are_the_same_objects_every_request() -> None:
    # ValidationCache keys on the rule classes: new classes per request would never hit.
    schema = build_schema()
    first = [e for e in schema.get_extensions() if isinstance(e, AddValidationRules)]
    second = [e for e in schema.get_extensions() if isinstance(e, AddValidationRules)]
    assert first and [r for e in first for r in e.validation_rules] == [
        r for e in second for r in e.validation_rules
    ]


async def test_too_deep_and_too_many_aliases_are_refused(api, tenant) -> None:  # type: ignore[no-untyped-def]
    inner = "id"
    for _ in range(6):
        inner = f"ideas {{ edges {{ node {{ campaign {{ {inner} }} }} }} }}"
    deep = f"{{ {inner} }}"
    body = await api.gql(deep, sk=tenant.secret_key)
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "depth" in body["errors"][0]["message"]
    aliases = "{ " + " ".join(f"a{i}: viewer {{ id }}" for i in range(40)) + " }"
    body = await api.gql(aliases, sk=tenant.secret_key)
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert body.get("data") is None
