"""Cache hits answered in front of Starlette (docs/architecture.md, "Read path", cache hits).

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
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass

from starlette.types import Scope, Send

from api import access, cors
from api.auth import Principal, cached_public_key
from api.cache import CachedResult, request_part
from api.request_checks import BadRequest
from api.view import GraphQLView, _parse_get, _Request
from engine import request_ids

log = logging.getLogger("cosource.api")

# Headers after which the full app must answer: a member token or secret key, or a body.
_FULL_APP = frozenset({b"authorization", b"content-length", b"transfer-encoding"})
_EXPOSE = (b"access-control-expose-headers", cors.EXPOSE_HEADERS.encode())
_VARY_ORIGIN = (b"vary", b"Origin")


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
        request_id = request_ids.accept(hit.sent_id.decode("latin-1") if hit.sent_id else None)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id  # request.state.request_id, as api.access sets it
        state[access.OPERATION] = hit.operation
        token = request_ids.bind(request_id)
        try:
            verdict = None
            if view.limiter is not None:
                http = _Request(scope)
                try:
                    auth = await view.authenticate(http.headers, view.client_of(http))
                except Exception:
                    log.exception("could not authenticate a cache hit; the full app answers")
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
            if hit.origin is not None:
                # The key allows this origin (cached_public_key checked): api.cors's answer.
                headers += (_VARY_ORIGIN, (b"access-control-allow-origin", hit.origin), _EXPOSE)
            headers.append((b"x-request-id", request_id.encode()))
            try:
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
            finally:
                access.AccessLog.record(scope, state, status, time.perf_counter() - started)
        finally:
            request_ids.unbind(token)
        return True
