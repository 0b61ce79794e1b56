"""Each HTTP request's id, access log line and metrics (docs/architecture.md, "Observability").

The request id is the caller's ``X-Request-Id`` when it is a sane token, else a fresh one; it is
returned in the response, bound for every log line of the request and written on the domain events
the request records (engine.request_ids), so jobs and webhook deliveries log under it too.
Metrics: ``cosource_http_requests_total{route, operation, outcome}`` and
``cosource_http_request_duration_seconds{route, operation}``; the GraphQL view names the
operation and its outcome (the first error's code, or ``ok``).
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine import request_ids

log = logging.getLogger("cosource.access")

REQUESTS = Counter(
    "cosource_http_requests",
    "HTTP requests by route, GraphQL operation name and outcome (ok or the first error code)",
    ["route", "operation", "outcome"],
)
LATENCY = Histogram(
    "cosource_http_request_duration_seconds",
    "Time to answer an HTTP request, by route and GraphQL operation name",
    ["route", "operation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ROUTES = frozenset({"/graphql", "/healthz", "/readyz", "/metrics", "/widget.js", "/demo"})
# Operation names come from callers: bounded, so a stream of random names cannot grow the metrics.
MAX_OPERATIONS = 200
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_known: set[str] = set()
# Keys the GraphQL view sets in the ASGI scope's state.
OPERATION = "cosource_operation"
OUTCOME = "cosource_outcome"


def operation_label(name: object) -> str:
    if not isinstance(name, str) or not name:
        return "anonymous"
    if not _NAME.match(name):
        return "other"
    if name not in _known:
        if len(_known) >= MAX_OPERATIONS:
            return "other"
        _known.add(name)
    return name


# The labelled children, looked up once per label set (labels() locks and validates per call).
_children: dict[tuple[str, str, str], tuple[Any, Any]] = {}


def _metrics(route: str, operation: str, outcome: str) -> tuple[Any, Any]:
    key = (route, operation, outcome)
    found = _children.get(key)
    if found is None:
        found = _children[key] = (
            REQUESTS.labels(route, operation, outcome),
            LATENCY.labels(route, operation),
        )
    return found


def _outcome(status: int, given: object) -> str:
    if isinstance(given, str):
        return given
    if status < 400:
        return "ok"
    return f"http_{status}"


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        sent = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                sent = value.decode("latin-1")
                break
        request_id = request_ids.accept(sent)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id  # request.state.request_id (the audit log reads it)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        token = request_ids.bind(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if scope["type"] == "http":
                self.record(scope, state, status, time.perf_counter() - started)
            request_ids.unbind(token)

    @staticmethod
    def record(scope: Scope, state: dict[str, object], status: int, seconds: float) -> None:
        """The request's metrics and log line (also called by api/front.py for what it answers)."""
        path = scope.get("path", "")
        route = path if path in ROUTES else "other"
        operation = str(state.get(OPERATION) or ("anonymous" if route == "/graphql" else "-"))
        outcome = _outcome(status, state.get(OUTCOME))
        requests, latency = _metrics(route, operation, outcome)
        requests.inc()
        latency.observe(seconds)
        if not log.isEnabledFor(logging.INFO):
            return
        log.info(
            "request",
            extra={
                "method": scope.get("method"),
                "path": path,  # never the query string: variables may hold personal data
                "status": status,
                "operation": operation,
                "outcome": outcome,
                "duration_ms": round(seconds * 1000, 2),
            },
        )
