"""A marker for "not given" in partial updates, where None is a meaningful value."""

from __future__ import annotations

from enum import Enum
from typing import Final, Literal, TypeAlias, TypeVar, Union


class _Unset(Enum):
    UNSET = "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Final = _Unset.UNSET
T = TypeVar("T")
Maybe: TypeAlias = Union[T, Literal[_Unset.UNSET]]  # noqa: UP007 (a generic alias needs Union)
