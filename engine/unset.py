"""A marker for "not given" in partial updates, where None is a meaningful value."""

from __future__ import annotations

from enum import Enum
from typing import Final, Literal, TypeVar


class _Unset(Enum):
    UNSET = "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Final = _Unset.UNSET
T = TypeVar("T")
Maybe = T | Literal[_Unset.UNSET]
