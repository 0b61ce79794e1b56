"""Cache hits, and POSTs a compiled plan answers, served in front of Starlette
(docs/architecture.md, "Read path": cache hits, compiled POSTs in front of Starlette).

A persisted-query GET whose answer is already in the result cache has the same answer each
time: the cost left is the framework around it (routing, four middlewares each wrapping ``send``,
Request and Response objects). :class:`CacheHits` answers such a request with two ``send`` calls
before any of that runs, and still does everything a hit does in the full app: the publishable key
and its allowed origins, the rate limiter (``GraphQLView.authenticate`` itself), ETag and 304,
``Vary`` and the key's CORS headers, the request id, the access log line and the HTTP metrics.

Only what it can decide without a side effect comes first: the key in the key cache, the
persisted query in this process's memory, the tenant's generation and the cache entry. Anything
else (no key, a member token or secret key, a body, a key or query this process has not seen, a
miss, a malformed URL, a refused origin) is the full app's, untouched. Once a hit is found the
request is authenticated and counted; if that refuses it (rate limited), the full app answers
with the same authentication, so the request is counted once.

:class:`PlanPosts` does the same for an uncached ``POST /graphql`` whose document has a compiled
read plan or member action's plan (api/plans), with a cached key (and member token); see its
docstring.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from contextvars import Token
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.types import Message, Receive, Scope, Send

from api import access, cors
from api.auth import Principal, cached_member, cached_public_key
from api.cache import CachedResult, request_part
from api.errors import Code, error_response, unavailable_response
from api.request_checks import BadRequest, check_request
from api.request_gate import FairGate, arrived
from api.view import PLAN_DECLINED, GraphQLView, RequestAuth, _parse_get, _Request
from engine import request_ids
from engine.db import is_unavailable
from engine.tenancy import request_tenant

log = logging.getLogger("cosource.api")

# Headers after which the full app must answer: a member token or secret key, or a body.
_FULL_APP = frozenset({b"authorization", b"content-length", b"transfer-encoding"})
_EXPOSE = (b"access-control-expose-headers", cors.EXPOSE_HEADERS.encode())
_VARY_ORIGIN = (b"vary", b"Origin")


def _begin(scope: Scope, sent_id: bytes | None, operation: str) -> tuple[str, Token[str | None]]:
    """The request id (accepted or made) set where api.access and api.logs read it, bound for
    the logs; returns it and the token that unbinds it."""
    request_id = request_ids.accept(sent_id.decode("latin-1") if sent_id else None)
    state = scope.setdefault("state", {})
    state["request_id"] = request_id  # request.state.request_id, as api.access sets it
    state[access.OPERATION] = operation
    return request_id, request_ids.bind(request_id)


async def _authenticate(view: GraphQLView, scope: Scope, what: str) -> RequestAuth | None:
    """The full authentication (rate limit counted) when limits are on; None when it raised,
    and the full app answers."""
    http = _Request(scope)
    try:
        return await view.authenticate(http.headers, view.client_of(http))
    except Exception:
        log.exception("could not authenticate %s; the full app answers", what)
        return None


async def _answer(
    scope: Scope,
    send: Send,
    state: dict[str, Any],
    started: float,
    status: int,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    origin: bytes | None,
    request_id: str,
) -> None:
    """Send a front-path answer with the headers the full app would add after the view's
    (CORS for an allowed origin, the request id) and log it once, as api.access does."""
    if origin is not None:
        # The key allows this origin (cached_public_key checked): api.cors's answer.
        headers += (_VARY_ORIGIN, (b"access-control-allow-origin", origin), _EXPOSE)
    headers.append((b"x-request-id", request_id.encode()))
    try:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    finally:
        access.AccessLog.record(scope, state, status, time.perf_counter() - started)


@dataclass(frozen=True, slots=True)
class _Get:
    """What a GET's query string says, once per distinct URL."""

    query_hash: str
    operation: str  # the metrics' label (api.access.operation_label)
    key_part: str  # api.cache.request_part


@dataclass(frozen=True, slots=True)
class _Hit:
    entry: CachedResult
    principal: Principal
    operation: str
    origin: bytes | None
    sent_id: bytes | None
    if_none_match: bytes | None


class CacheHits:
    """``await hits(scope, send)``: True when the request was answered here."""

    MEMORY = 2048

    def __init__(self, view: GraphQLView) -> None:
        self.view = view
        self._urls: OrderedDict[bytes, _Get | None] = OrderedDict()
        # Counted so tests can tell which path answered.
        self.answered = 0
        self.passed = 0

    def _request(self, query_string: bytes) -> _Get | None:
        if query_string in self._urls:
            self._urls.move_to_end(query_string)
            return self._urls[query_string]
        found = None
        try:
            payload = _parse_get(query_string, self.view.max_variable_depth)
        except BadRequest:
            payload = None
        extensions = payload.get("extensions") if payload else None
        spec = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        if (
            payload is not None
            and isinstance(spec, dict)
            and spec.get("version") == 1
            and isinstance(spec.get("sha256Hash"), str)
            and len(spec["sha256Hash"]) == 64
            and payload.get("query") is None
        ):
            name = payload.get("operationName")
            variables = payload.get("variables")
            query_hash = spec["sha256Hash"].lower()
            found = _Get(
                query_hash,
                access.operation_label(name),
                request_part(
                    query_hash,
                    name,
                    variables if isinstance(variables, dict) else None,
                ),
            )
        self._urls[query_string] = found
        if len(self._urls) > self.MEMORY:
            self._urls.popitem(last=False)
        return found

    async def __call__(self, scope: Scope, send: Send) -> bool:
        started = time.perf_counter()
        try:
            found = await self._find(scope)
        except Exception:
            # Whatever went wrong here, the full app answers the request as it always did.
            log.exception("the cache-hit path failed; the full app answers")
            found = None
        if found is None:
            self.passed += 1
            return False
        answered = await self._answer(scope, send, found, started)
        if answered:
            self.answered += 1
        else:
            self.passed += 1
        return answered

    async def _find(self, scope: Scope) -> _Hit | None:
        """The cached answer for this request, when the full app would serve it from the cache
        (and nothing has been counted or changed yet)."""
        view = self.view
        cache, generations = view.cache, view.generations
        if cache is None or generations is None or scope.get("root_path"):
            return None
        raw_key = origin = sent_id = if_none_match = None
        # The first of a repeated header counts, as in the full app (api.view._Headers).
        for name, value in scope["headers"]:
            if name == b"x-cosource-key":
                raw_key = value if raw_key is None else raw_key
            elif name == b"origin":
                origin = value if origin is None else origin
            elif name == b"x-request-id":
                sent_id = value if sent_id is None else sent_id
            elif name == b"if-none-match":
                if_none_match = value if if_none_match is None else if_none_match
            elif name in _FULL_APP:
                return None
        if raw_key is None:
            return None
        request = self._request(scope["query_string"])
        if request is None:
            return None
        origin_text = origin.decode("latin-1") if origin is not None else None
        principal = cached_public_key(raw_key.decode("latin-1").strip(), origin_text)
        if principal is None:
            return None
        persisted = view.persisted.cached(request.query_hash)
        if persisted is None or not persisted.read_only:
            return None
        tenant_id = principal.tenant_id
        generation = await generations.current(tenant_id)
        if generation is None:
            return None
        entry = cache.hit(f"{tenant_id}:{generation}:{request.key_part}")
        if entry is None:
            return None
        return _Hit(entry, principal, request.operation, origin, sent_id, if_none_match)

    async def _answer(self, scope: Scope, send: Send, hit: _Hit, started: float) -> bool:
        """Authenticate and count the request as the full app would (the key is cached, so no
        database is read), then send the cached answer; False when the full app must answer."""
        view = self.view
        request_id, token = _begin(scope, hit.sent_id, hit.operation)
        state = scope["state"]
        try:
            verdict = None
            if view.limiter is not None:
                auth = await _authenticate(view, scope, "a cache hit")
                if auth is None:
                    return False
                if auth.error is not None or auth.principal is not hit.principal:
                    # Refused (or the key changed meanwhile): the full app answers with this
                    # authentication instead of counting the request a second time.
                    state["cosource_auth"] = auth
                    return False
                verdict = auth.verdict
            entry = hit.entry
            if hit.if_none_match is not None and hit.if_none_match.decode("latin-1") == entry.etag:
                status, body, headers = 304, b"", list(entry.not_modified_headers)
            else:
                status, body, headers = 200, entry.body, list(entry.headers)
            if verdict is not None:
                headers.append((b"x-ratelimit-remaining", str(verdict.remaining).encode()))
            await _answer(
                scope, send, state, started, status, headers, body, hit.origin, request_id
            )
        finally:
            request_ids.unbind(token)
        return True


# ---- compiled-plan POSTs -----------------------------------------------------------------------

# Headers a compiled POST reads; the first of a repeated one counts (api.view._Headers).
_POST_HEADERS = frozenset(
    {
        b"x-cosource-key",
        b"authorization",
        b"origin",
        b"x-request-id",
        b"content-type",
        b"content-length",
        b"transfer-encoding",
    }
)
_JSON = (b"content-type", b"application/json")


@dataclass(frozen=True, slots=True)
class _Post:
    principal: Principal  # from the key and member caches; authenticate() decides when limited
    token: str | None
    origin: bytes | None
    sent_id: bytes | None
    length: int


class PlanPosts:
    """``await posts(scope, receive, send)``: None when a ``POST /graphql`` was answered here by
    its compiled plan, else the ``receive`` the full app must read the request from (the
    body may have been read already: it is replayed).

    It answers when everything it needs is in this process: the publishable key in the key
    cache and allowed from the request's Origin, a member token (if any) in the member cache,
    a JSON body of ``query`` (and ``operationName``, ``variables``) under the body limit, and a
    plan compiled for (document, operation, role): a read, or a member action (``vote``,
    ``scoreIdea``, ``pledge``), which a POST may run as in the full app. Then it does what the full app does for
    such a request: the request id, the gate (api/request_gate.py), authentication and the rate
    limiter (``GraphQLView.authenticate`` itself, when limits are on), the plan under the
    execution deadline, a timeout's 503 ``QUERY_TIMEOUT``, an outage's 503
    ``SERVICE_UNAVAILABLE``, ``X-RateLimit-Remaining``, the key's CORS headers, the access log
    line and the metrics. A plan that steps aside hands the request over with
    :data:`api.view.PLAN_DECLINED`, so the executor answers with its own errors and the plan is
    not tried twice (a member action steps aside only before calling anything, or when its call
    wrote nothing: api/plans/actions.py; one that timed out or met an outage is answered here,
    never run again); a refused authentication is handed over as the cache-hit path hands it
    (``cosource_auth``), counted once."""

    def __init__(self, view: GraphQLView, gate: FairGate, max_body_bytes: int) -> None:
        self.view = view
        self.gate = gate
        self.max_body_bytes = max_body_bytes
        # Counted so tests can tell which path answered.
        self.answered = 0
        self.passed = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        started = time.perf_counter()
        arrived(scope)  # stamped by api.app.App already; the deadline runs from there
        try:
            found = self._find(scope)
        except Exception:
            log.exception("the compiled-POST path failed; the full app answers")
            found = None
        if found is None:
            self.passed += 1
            return receive
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        answered = False
        if messages[-1]["type"] == "http.request" and len(body) <= self.max_body_bytes:
            answered = await self._serve(scope, send, found, body, started)
        if answered:
            self.answered += 1
            return None
        self.passed += 1
        return replay

    def _find(self, scope: Scope) -> _Post | None:
        """The request's principal from the caches, when the full app would find the same
        without reading the database (and nothing has been counted or changed yet)."""
        view = self.view
        if view.plans is None or scope.get("root_path"):
            return None
        seen: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if name in _POST_HEADERS and name not in seen:
                seen[name] = value
        raw_key = seen.get(b"x-cosource-key")
        length = seen.get(b"content-length")
        if (
            raw_key is None
            or b"transfer-encoding" in seen
            or length is None
            or not length.isdigit()
            or int(length) > self.max_body_bytes
            or b"json" not in seen.get(b"content-type", b"")
        ):
            return None
        origin = seen.get(b"origin")
        origin_text = origin.decode("latin-1") if origin is not None else None
        principal = cached_public_key(raw_key.decode("latin-1").strip(), origin_text)
        if principal is None:
            return None
        token = None
        authorization = seen.get(b"authorization")
        if authorization:  # as api.auth._bearer reads it (an empty header is none)
            scheme, _, rest = authorization.decode("latin-1").partition(" ")
            token = rest.strip()
            if scheme.lower() != "bearer" or not token or token.startswith("sk_"):
                return None
            member = cached_member(principal, token)
            if member is None:
                return None
            principal = member
        return _Post(principal, token, origin, seen.get(b"x-request-id"), int(length))

    async def _serve(
        self, scope: Scope, send: Send, post: _Post, body: bytes, started: float
    ) -> bool:
        """Run the plan and send its answer; False (nothing sent) when the full app must."""
        view, plans = self.view, self.view.plans
        assert plans is not None  # _find checked
        try:
            payload = check_request(orjson.loads(body), max_variable_depth=view.max_variable_depth)
        except (orjson.JSONDecodeError, BadRequest):
            return False  # the full app answers 400 with its own message
        query = payload.get("query")
        if not isinstance(query, str) or payload.get("extensions") is not None:
            return False  # persisted queries (and their cache) are the full app's
        name = payload.get("operationName")
        key = plans.key(query, name, post.principal.role)
        if plans.compiled(key) is None:
            return False
        request_id, bound = _begin(scope, post.sent_id, access.operation_label(name))
        state = scope["state"]
        if not await self.gate.acquire(view.deadline(scope)):
            # Its deadline passed while it waited (api/request_gate.py): answered as one stopped
            # while running, and never run.
            try:
                await self._send_timed_out(scope, send, state, started, post, request_id)
            finally:
                request_ids.unbind(bound)
            return True
        try:
            verdict = auth = None
            principal = post.principal
            if view.limiter is not None:
                auth = await _authenticate(view, scope, "a compiled POST")
                if auth is None:
                    return False
                if auth.error is not None or auth.principal is None:
                    state["cosource_auth"] = auth  # counted: the full app answers with it
                    return False
                principal, verdict = auth.principal, auth.verdict
                if principal.role is not post.principal.role:
                    state["cosource_auth"] = auth
                    return False
            tenant_id = principal.tenant_id
            # Reset when the answer is sent: an ASGI server gives each request its own task,
            # but a caller running the app in its own task (httpx's ASGITransport) must not
            # find this tenant in scope afterwards, nor the tasks it starts.
            with request_tenant(tenant_id):
                status, headers = 200, []
                try:
                    async with asyncio.timeout_at(view.deadline(scope)):
                        # A POST: a member action's plan runs too, as the full app allows.
                        answer = await plans.run(
                            key,
                            payload.get("variables"),
                            tenant_id,
                            principal.audience,
                            mutations=True,
                        )
                except TimeoutError:
                    await self._send_timed_out(scope, send, state, started, post, request_id)
                    return True
                except Exception as exc:
                    # What GraphQLView.run answers for what escaped a plan (api/view.py).
                    if is_unavailable(exc):
                        log.warning("database unavailable: %s", exc)
                        response = unavailable_response()
                    else:
                        log.error("unexpected error serving /graphql", exc_info=exc)
                        response = error_response(
                            "Unexpected error.", Code.INTERNAL_SERVER_ERROR, 500
                        )
                    status, headers, answer = (
                        response.status_code,
                        response.raw_headers,
                        bytes(response.body),
                    )
                else:
                    if answer is None:
                        # Stepped aside: the executor answers (api.view skips the plan) with this
                        # request's authentication, counted once.
                        state[PLAN_DECLINED] = True
                        if auth is not None:
                            state["cosource_auth"] = auth
                        return False
                    if verdict is not None:
                        headers.append((b"x-ratelimit-remaining", str(verdict.remaining).encode()))
                    headers += ((b"content-length", str(len(answer)).encode()), _JSON)
                await _answer(
                    scope, send, state, started, status, headers, answer, post.origin, request_id
                )
                return True
        finally:
            self.gate.release()
            request_ids.unbind(bound)

    async def _send_timed_out(
        self,
        scope: Scope,
        send: Send,
        state: dict[str, Any],
        started: float,
        post: _Post,
        request_id: str,
    ) -> None:
        """The deadline's 503 (``GraphQLView.timed_out``), at the gate or while the plan ran."""
        response = self.view.timed_out()
        state[access.OUTCOME] = response.cosource_code  # type: ignore[attr-defined]
        body = bytes(response.body)
        status, headers = response.status_code, response.raw_headers
        await _answer(scope, send, state, started, status, headers, body, post.origin, request_id)
