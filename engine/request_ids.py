"""The id of the request a piece of work started from, for logs (see docs/architecture.md,
"Observability").

Set by the API for each HTTP request; written on the domain events that request records, so the
jobs and webhook deliveries that follow (in this process or in a worker) log under the same id.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextvars import ContextVar, Token

from engine.ids import ulid

MAX_LENGTH = 64
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

_current: ContextVar[str | None] = ContextVar("cosource_request_id", default=None)


def current() -> str | None:
    return _current.get()


def accept(value: str | None) -> str:
    """A caller's X-Request-Id when it is a sane token, else a fresh id."""
    if value is not None and _VALID.match(value):
        return value
    return f"req_{ulid()}"


@contextlib.contextmanager
def bound(request_id: str | None) -> Iterator[None]:
    token = bind(request_id)
    try:
        yield
    finally:
        unbind(token)


def bind(request_id: str | None) -> Token[str | None]:
    """``bound`` without the context manager, for the per-request path (api/access.py)."""
    return _current.set(request_id)


def unbind(token: Token[str | None]) -> None:
    _current.reset(token)
