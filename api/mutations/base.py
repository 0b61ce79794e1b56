"""Running an engine call from a mutation: domain errors become userErrors, nothing else is caught."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from api.types.common import UserError
from engine.errors import DomainError

T = TypeVar("T")


async def attempt(call: Callable[[], Awaitable[T]]) -> tuple[T | None, list[UserError]]:
    try:
        return await call(), []
    except DomainError as error:
        return None, UserError.from_domain(error)
