"""api.request_checks on variables: strings, keys, nesting and the size budget, whatever shape
the variables take (plain values are checked without a call of their own)."""

from __future__ import annotations

from typing import Any

import pytest

from api.request_checks import MAX_VARIABLE_NODES, BadRequest, check_request


def _check(variables: Any, depth: int = 3) -> str | None:
    try:
        check_request({"query": "{ x }", "variables": variables}, max_variable_depth=depth)
    except BadRequest as exc:
        return str(exc)
    return None


@pytest.mark.parametrize(
    "variables",
    [{"a": "x", "b": "é"}, {"a": {"b": {"c": "ü"}}}, {"a": ["x", {"b": "y"}]}, {"k": 1, "l": None}],
)
def test_good_variables_pass(variables: Any) -> None:
    assert _check(variables) is None


@pytest.mark.parametrize(
    "variables",
    [
        {"a": "x\x00"},
        {"a\x00": "x"},
        {"a": "\ud800"},
        {"\udc00": 1},
        {"a": {"b": "\ud800x"}},
        {"a": ["ok", "\x00"]},
    ],
)
def test_nul_and_lone_surrogates_are_refused_in_keys_and_values(variables: Any) -> None:
    assert _check(variables) == "strings must not contain NUL characters or lone surrogates"


def test_nesting_counts_plain_values_at_their_own_depth() -> None:
    assert _check({"a": {"b": "x"}}, depth=2) is None
    assert _check({"a": {"b": "x"}}, depth=1) == "variables are nested deeper than 1 levels"
    assert _check({"a": "x"}, depth=0) == "variables are nested deeper than 0 levels"
    assert _check({"a": {"b": 1}}, depth=1) == "variables are nested deeper than 1 levels"


def test_the_budget_counts_keys_and_plain_values() -> None:
    # The variables object itself, then a key and a value per entry.
    fits = {str(n): "v" for n in range((MAX_VARIABLE_NODES - 1) // 2)}
    assert _check(fits) is None
    over = {**fits, "last": "v"}
    assert _check(over) == f"variables hold more than {MAX_VARIABLE_NODES} values"
    # A bad value past the budget: the budget is what is reported, as before.
    assert (
        _check({**fits, "last": "\x00"}) == f"variables hold more than {MAX_VARIABLE_NODES} values"
    )
