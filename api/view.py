"""The GraphQL HTTP view: authentication and throttling once per request, persisted queries,
the anonymous result cache with ETags, and error codes on every response.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from cross_web import HTTPException
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types import ExecutionResult

from api import access, cors, request_gate
from api.auth import Principal, Role, authenticate, cached_public_key, origin_allowed
from api.body_limit import BodyTooLarge
from api.cache import CachedResult, ResultCache, cache_key
from api.context import Context
from api.errors import (
    UNAVAILABLE_RETRY_AFTER,
    Code,
    PublicError,
    forbidden,
    unauthenticated,
    unavailable,
)
from api.errors import error_response as _error_response
from api.errors import unavailable_response as _unavailable_response
from api.extensions import map_error
from api.graphiql import graphiql_page
from api.live import Broadcaster
from api.persisted import HashMismatch, PersistedQueries, PersistedQuery
from api.plans.runner import PlanKey, ReadPlans
from api.ratelimit import RequestLimiter, Verdict, client_ip, ip_bucket
from api.request_checks import BadRequest, check_request
from engine.db import is_unavailable
from engine.errors import Forbidden, Unauthenticated
from engine.tenancy import enter_tenant
from runtime.freshness import Generations

log = logging.getLogger("cosource.api")

_persisted_query: ContextVar[str | None] = ContextVar("cosource_persisted_query", default=None)
# Set in the scope's state by the compiled-POST front path (api/front.py) when the request's plan
# stepped aside there: the executor answers without the plan being tried (and counted) twice.
PLAN_DECLINED = "cosource_plan_declined"


@dataclass(frozen=True)
class RequestAuth:
    principal: Principal | None
    error: PublicError | None
    verdict: Verdict | None = None


@functools.lru_cache(maxsize=2048)
def _parse_get(query_string: bytes, max_variable_depth: int) -> dict[str, Any]:
    """A GET's parameters, checked (api.request_checks). Cache hits repeat the same URL, and
    parsing its encoded JSON was half of a hit's cost; callers only read the result."""
    params: dict[str, Any] = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
    try:
        for name in ("variables", "extensions"):
            params[name] = orjson.loads(params[name]) if params.get(name) else None
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"'{name}' is not valid JSON") from exc
    return check_request(params, max_variable_depth=max_variable_depth)


class _Headers(Headers):
    """Starlette's Headers, read through a dict: a request asks for a dozen headers and most are
    absent (each miss in Headers scans the list and raises KeyError)."""

    def __init__(self, scope: Scope) -> None:
        super().__init__(scope=scope)
        self._first: dict[bytes, bytes] = {}
        for name, value in self.raw:
            self._first.setdefault(name, value)

    def get(self, key: str, default: Any = None) -> Any:
        value = self._first.get(key.lower().encode("latin-1"))
        return default if value is None else value.decode("latin-1")


class _Request(Request):
    @functools.cached_property
    def headers(self) -> Headers:
        return _Headers(self.scope)


class _Prebuilt(Response):
    """A response whose headers are already encoded (a cache hit's)."""

    def __init__(self, body: bytes, status: int, headers: tuple[tuple[bytes, bytes], ...]) -> None:
        self.status_code = status
        self.background = None
        self.body = body
        self.raw_headers = list(headers)


def _is_unavailable(data: Any) -> bool:
    errors = data.get("errors") if isinstance(data, dict) else None
    return any(
        (e.get("extensions") or {}).get("code") == Code.SERVICE_UNAVAILABLE.value
        for e in errors or ()
    )


def _code_of(error: PublicError) -> str | None:
    return (error.extensions or {}).get("code")


def _cors_allowed(auth: RequestAuth, origin: str) -> bool | None:
    """Whether this request's key lets a page on ``origin`` read the answer (api.cors); None when
    no key decided (the preflight rule applies)."""
    principal = auth.principal
    if principal is not None:
        if principal.key is None:
            return False  # a console session (cookie): never readable from another origin
        return principal.role != Role.SECRET and origin_allowed(principal.key, origin)
    if auth.error is not None and _code_of(auth.error) == Code.FORBIDDEN.value:
        return False
    return None


def _rate_limited(verdict: Verdict) -> PublicError:
    return PublicError(
        f"rate limit exceeded; retry in {verdict.retry_after} s",
        Code.RATE_LIMITED,
        retryAfter=verdict.retry_after,
    )


class GraphQLView(GraphQL[Context, None]):
    debug = False
    # Execution deadline per request (COSOURCE_EXECUTION_TIMEOUT_SECONDS): what the query limits
    # let through still cannot hold a worker for long.
    timeout_seconds = 30.0
    max_variable_depth = 16
    limiter: RequestLimiter | None = None
    origins: cors.KnownOrigins | None = None
    persisted: PersistedQueries = PersistedQueries()
    cache: ResultCache | None = None
    generations: Generations | None = None
    live: Broadcaster | None = None
    plans: ReadPlans | None = None
    # Prefilled in GraphiQL's headers under `cosource demo`.
    demo_key: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Strawberry's, with a Request whose headers are read through a dict (_Headers)."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(_Request(scope, receive))
        except HTTPException as exc:
            response = PlainTextResponse(exc.reason, status_code=exc.status_code)
        await response(scope, receive, send)

    def client_of(self, request: Request | WebSocket) -> str:
        """The visitor's rate-limit bucket (api.ratelimit.client_ip, as the audit log sees it)."""
        return ip_bucket(client_ip(request))

    async def authenticate(self, headers: Headers, client: str = "unknown") -> RequestAuth:
        try:
            principal = await authenticate(headers)
        except Unauthenticated as exc:
            limited = await self._limit_anonymous(client)
            return limited or RequestAuth(None, unauthenticated(str(exc)))
        except Forbidden as exc:
            return RequestAuth(None, forbidden(str(exc)))
        except Exception as exc:
            # Key lookups on a cache miss and member upserts reach the database before any
            # resolver: an outage there is SERVICE_UNAVAILABLE too, not a bare 500.
            if not is_unavailable(exc):
                raise
            log.warning("database unavailable during authentication: %s", exc)
            return RequestAuth(None, unavailable())
        if self.limiter is None:
            return RequestAuth(principal, None)
        if principal is None:
            return await self._limit_anonymous(client) or RequestAuth(None, None)
        # Console sessions count per user (negative ids never collide with API keys').
        if principal.key is not None:
            key_bucket, public = principal.key.id, principal.role != Role.SECRET
        elif principal.console is not None:
            key_bucket, public = -principal.console.user.id, False
        else:
            return RequestAuth(principal, None)
        verdict = await self.limiter.check(
            key_bucket,
            client,
            member_id=principal.member_id,
            public=public,
        )
        if verdict is None or verdict.allowed:
            return RequestAuth(principal, None, verdict)
        return RequestAuth(principal, _rate_limited(verdict), verdict)

    async def _websocket_origin_ok(self, websocket: WebSocket) -> bool:
        """A cross-origin handshake is accepted like a CORS request: when the key it carries (in
        headers) allows the origin, or, when the key comes later in connection_init, when some
        publishable key allows it (on_ws_connect then checks that key against this origin)."""
        auth = await self.authenticate(websocket.headers, self.client_of(websocket))
        websocket.state.cosource_auth = auth
        origin = websocket.headers.get("origin")
        if origin is None:
            return True
        allowed = _cors_allowed(auth, origin)
        if allowed is not None:
            return allowed
        return self.origins is not None and await self.origins.allows(origin)

    def is_websocket_origin_allowed(self, request: Any, origin: str) -> bool:
        return bool(getattr(request.state, "cosource_ws_origin_ok", False))

    async def _limit_anonymous(self, client: str) -> RequestAuth | None:
        """Requests with no or an unknown key are counted per IP; None while under the limit."""
        if self.limiter is None:
            return None
        verdict = await self.limiter.check_anonymous(client)
        if verdict is None or verdict.allowed:
            return None
        return RequestAuth(None, _rate_limited(verdict), verdict)

    async def run(self, request: Any, context: Any = None, root_value: Any = None) -> Any:
        if isinstance(request, WebSocket):
            # Decided here because Strawberry's origin hook is synchronous and keys are not.
            request.state.cosource_ws_origin_ok = await self._websocket_origin_ok(request)
            return await super().run(request)
        if not isinstance(request, Request) or request.scope["type"] != "http":
            return await super().run(request)
        try:
            response = await self._run_http(request)
            code = getattr(response, "cosource_code", None)
            if code is not None:
                setattr(request.state, access.OUTCOME, code)
            return response
        except (HTTPException, BodyTooLarge):
            raise  # strawberry's own 4xx answers, and the body limit's 413
        except Exception as exc:
            # Whatever escaped the resolvers' error mapping: coded JSON, never a plain 500.
            if is_unavailable(exc):
                log.warning("database unavailable: %s", exc)
                return _unavailable_response()
            log.error("unexpected error serving /graphql", exc_info=exc)
            return _error_response("Unexpected error.", Code.INTERNAL_SERVER_ERROR, 500)

    async def _run_http(self, request: Request) -> Response:
        # Already authenticated (and counted) when the cache-hit path handed it over (api/front.py).
        auth = getattr(request.state, "cosource_auth", None)
        if auth is None:
            auth = await self.authenticate(request.headers, self.client_of(request))
        console = auth.principal.console if auth.principal is not None else None
        if console is not None and request.method == "POST":
            # A console session rides on a cookie: every POST must prove it came from the page.
            sent = request.headers.get("x-csrf-token", "")
            if not hmac.compare_digest(sent, console.csrf_token):
                return _error_response(
                    "a console request needs its X-CSRF-Token header", Code.FORBIDDEN, 403
                )
        request.state.cosource_auth = auth
        origin = request.headers.get("origin")
        if origin is not None:
            allowed = _cors_allowed(auth, origin)
            if allowed is not None:
                setattr(request.state, cors.STATE_KEY, allowed)
        try:
            payload = await self._payload(request)
        except BadRequest as exc:
            return _error_response(str(exc), Code.BAD_REQUEST, 400)
        operation_name = payload.get("operationName") if payload else None
        request.state.cosource_operation_named = bool(operation_name)
        setattr(request.state, access.OPERATION, access.operation_label(operation_name))
        persisted: PersistedQuery | None = None
        if payload is not None and isinstance(payload.get("extensions"), dict):
            found = await self._persisted(payload)
            if isinstance(found, Response):
                return found
            persisted = found
        key = await self._cache_key(auth, persisted, payload)
        if key is not None and self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                return self._cacheable(request, hit, auth)
        plan_key, query = self._plan_key(auth, persisted, payload)
        if (
            plan_key is not None
            and self.plans is not None
            and auth.principal is not None
            and not getattr(request.state, PLAN_DECLINED, False)
        ):
            # Compiled plan (api/plans): same bytes as the executor, without it, under the same
            # deadline; a member action only from a POST, as the executor allows.
            enter_tenant(auth.principal.tenant_id)
            assert payload is not None
            try:
                async with asyncio.timeout_at(self.deadline(request.scope)):
                    body = await self.plans.run(
                        plan_key,
                        payload.get("variables"),
                        auth.principal.tenant_id,
                        auth.principal.audience,
                        mutations=request.method == "POST",
                    )
            except TimeoutError:
                return self.timed_out()
            if body is not None:
                if key is not None and self.cache is not None:
                    return self._cacheable(request, self.cache.put(key, body), auth)
                headers = {}
                if auth.verdict is not None:
                    headers["X-RateLimit-Remaining"] = str(auth.verdict.remaining)
                return Response(body, media_type="application/json", headers=headers)
        token = _persisted_query.set(persisted.query if persisted else None)
        try:
            async with asyncio.timeout_at(self.deadline(request.scope)):
                response = await super().run(request)
        except TimeoutError:
            return self.timed_out()
        finally:
            _persisted_query.reset(token)
        if (
            plan_key is not None
            and query is not None
            and self.plans is not None
            and auth.principal is not None
            and not self.plans.known(plan_key)
            and response.status_code == 200
            and b'"errors"' not in bytes(response.body)
        ):
            self.plans.learn(plan_key, query, auth.principal.audience)
        if plan_key is not None and self.plans is not None:
            self.plans.settle(plan_key)  # requests waiting for this document's first answer go on
        if key is not None and self.cache is not None and response.status_code == 200:
            body = bytes(response.body)
            if "errors" not in orjson.loads(body):
                return self._cacheable(request, self.cache.put(key, body), auth)
        return response

    def deadline(self, scope: Scope) -> float:
        """When this request is stopped (event loop time): ``timeout_seconds`` after it arrived,
        so the wait at the gate counts (api.request_gate.arrived; docs/architecture.md,
        "Request deadlines")."""
        return request_gate.arrived(scope) + self.timeout_seconds

    async def expired(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The answer to a request whose deadline passed while it waited at the gate
        (api.request_gate.RequestGate): the deadline's 503, as :meth:`timed_out` answers one
        stopped while running. Nothing of the request runs, so its key is only looked up in the
        key cache, to let the pages it allows read the answer (api.cors)."""
        request = Request(scope, receive)
        origin = request.headers.get("origin")
        raw_key = request.headers.get("x-cosource-key")
        if origin is not None and raw_key and cached_public_key(raw_key.strip(), origin):
            setattr(request.state, cors.STATE_KEY, True)
        response = self.timed_out()
        setattr(request.state, access.OUTCOME, response.cosource_code)  # type: ignore[attr-defined]
        await response(scope, receive, send)

    def timed_out(self) -> Response:
        """The answer to a request stopped at its deadline (also api/front.py's)."""
        log.warning("request stopped after %.1f s", self.timeout_seconds)
        return _error_response(
            f"the request took longer than {self.timeout_seconds:g} s and was stopped",
            Code.QUERY_TIMEOUT,
            503,
        )

    def _plan_key(
        self, auth: RequestAuth, persisted: PersistedQuery | None, payload: dict[str, Any] | None
    ) -> tuple[PlanKey | None, str | None]:
        if self.plans is None or auth.error is not None or auth.principal is None or not payload:
            return None, None
        query = persisted.query if persisted is not None else payload.get("query")
        if not isinstance(query, str):
            return None, None
        return self.plans.key(query, payload.get("operationName"), auth.principal.role), query

    async def _payload(self, request: Request) -> dict[str, Any] | None:
        """The request's GraphQL payload, checked; BadRequest when it cannot be one."""
        if request.method == "GET":
            return _parse_get(request.scope["query_string"], self.max_variable_depth)
        if request.method == "POST" and "json" in request.headers.get("content-type", ""):
            try:
                # orjson refuses invalid UTF-8, lone surrogate escapes and nesting past 1024.
                data = orjson.loads(await request.body())
            except orjson.JSONDecodeError as exc:
                raise BadRequest(f"the request body is not valid JSON: {exc}") from exc
            return check_request(data, max_variable_depth=self.max_variable_depth)
        return None

    async def _persisted(self, payload: dict[str, Any]) -> PersistedQuery | Response | None:
        spec = payload["extensions"].get("persistedQuery")
        if not isinstance(spec, dict):
            return None
        query_hash = spec.get("sha256Hash")
        if spec.get("version") != 1 or not isinstance(query_hash, str) or len(query_hash) != 64:
            return _error_response("unsupported persistedQuery", Code.BAD_USER_INPUT, 400)
        query = payload.get("query")
        if isinstance(query, str):
            try:
                return await self.persisted.put(query_hash, query)
            except HashMismatch as exc:
                return _error_response(str(exc), Code.BAD_USER_INPUT, 400)
        found = await self.persisted.get(query_hash.lower())
        if found is None:
            return _error_response("PersistedQueryNotFound", Code.PERSISTED_QUERY_NOT_FOUND)
        return found

    async def _cache_key(
        self, auth: RequestAuth, persisted: PersistedQuery | None, payload: dict[str, Any] | None
    ) -> str | None:
        principal = auth.principal
        if (
            self.cache is None
            or self.generations is None
            or persisted is None
            or not persisted.read_only
            or auth.error is not None
            or principal is None
            or principal.role != Role.PUBLIC
            or payload is None
        ):
            return None
        generation = await self.generations.current(principal.tenant_id)
        if generation is None:
            return None
        variables = payload.get("variables")
        return cache_key(
            principal.tenant_id,
            persisted.hash,
            payload.get("operationName"),
            variables if isinstance(variables, dict) else None,
            generation,
        )

    def _cacheable(self, request: Request, entry: CachedResult, auth: RequestAuth) -> Response:
        """The cached answer, or 304 when the client holds it, with headers encoded once per
        entry (api/cache.py)."""
        if request.headers.get("if-none-match") == entry.etag:
            response = _Prebuilt(b"", 304, entry.not_modified_headers)
        else:
            response = _Prebuilt(entry.body, 200, entry.headers)
        if auth.verdict is not None:
            remaining = str(auth.verdict.remaining).encode()
            response.raw_headers.append((b"x-ratelimit-remaining", remaining))
        return response

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql_page(request.url.path, self.demo_key)

    def should_render_graphql_ide(self, request: Any) -> bool:
        # Only a browser asking for a page gets GraphiQL; a persisted-query GET gets JSON.
        return (
            request.method == "GET"
            and request.query_params.get("query") is None
            and request.query_params.get("extensions") is None
            and "text/html" in request.headers.get("accept", "")
        )

    async def parse_http_body(self, request: Any) -> Any:
        data = await super().parse_http_body(request)
        query = _persisted_query.get()
        if query is not None and isinstance(data, GraphQLRequestData) and data.query is None:
            data.query = query
        return data

    async def get_context(self, request: Any, response: Any) -> Context:
        auth: RequestAuth | None = None
        if isinstance(request, Request | WebSocket):
            auth = getattr(request.state, "cosource_auth", None)
        if auth is None:
            auth = await self.authenticate(request.headers, self.client_of(request))
        if auth.principal is not None:
            # Every query of this request is scoped to this tenant (engine.tenancy).
            enter_tenant(auth.principal.tenant_id)
        if auth.verdict is not None and isinstance(response, Response):
            response.headers["X-RateLimit-Remaining"] = str(auth.verdict.remaining)
            if not auth.verdict.allowed:
                response.status_code = 429
                response.headers["Retry-After"] = str(auth.verdict.retry_after)
        return Context(
            request=request,
            response=response,
            principal=auth.principal,
            auth_error=auth.error,
            live=self.live,
            operation_named=getattr(request.state, "cosource_operation_named", True)
            if isinstance(request, Request)
            else True,
        )

    async def on_ws_connect(self, context: Context) -> Any:
        """Browsers cannot set websocket headers: keys may come in connection_init instead. They
        are checked against the handshake's Origin, exactly as an HTTP request's would be."""
        params = context.connection_params or {}
        if context.principal is None and params:
            handshake = context.request.headers
            sent = {k.lower(): str(v) for k, v in params.items() if isinstance(v, str)}
            sent.pop("origin", None)  # only the browser's own Origin header counts
            if "origin" in handshake:
                sent["origin"] = handshake["origin"]
            auth = await self.authenticate(Headers(sent), self.client_of(context.request))
            if auth.error is not None:
                raise ConnectionRejectionError(
                    {"message": auth.error.message, "code": _code_of(auth.error)}
                )
            context.principal, context.auth_error = auth.principal, None
            if auth.principal is not None:
                enter_tenant(auth.principal.tenant_id)
        elif context.auth_error is not None:
            raise ConnectionRejectionError(
                {
                    "message": context.auth_error.message,
                    "code": _code_of(context.auth_error),
                }
            )
        return await super().on_ws_connect(context)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        response = super().create_response(response_data, sub_response)
        if _is_unavailable(response_data):
            response.status_code = 503
            response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER)
        return response

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        # Syntax errors never reach schema extensions; give them (and anything else) their code.
        if result.errors:
            result.errors = [map_error(e, debug=self.debug) for e in result.errors]
        if isinstance(request, Request):
            first = result.errors[0].extensions if result.errors else None
            outcome = (first or {}).get("code", "error") if result.errors else "ok"
            setattr(request.state, access.OUTCOME, str(outcome))
        return await super().process_result(request, result)
