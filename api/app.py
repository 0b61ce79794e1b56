"""The Starlette application: GraphQL, health, metrics, the widget and the demo page."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import strawberry
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from tortoise import connections

from api import assets, console, integrations
from api.access import AccessLog
from api.body_limit import BodySizeLimit
from api.cache import ResultCache
from api.cors import KnownOrigins, PerKeyCORS
from api.front import CacheHits, PlanPosts
from api.live import Broadcaster, LiveHooks
from api.outage import OutageAnswers
from api.persisted import PersistedQueries
from api.plans.runner import ReadPlans
from api.ratelimit import (
    ClientAddress,
    MemoryRateLimiter,
    RateLimits,
    RedisRateLimiter,
    RequestLimiter,
)
from api.request_gate import FairGate, RequestGate, arrived
from api.schema import build_schema
from api.view import GraphQLView
from engine import db, exposure
from engine.member_tokens import issue_member_token
from engine.members import MemberData
from engine.models.tenants import Tenant
from engine.settings import Settings, get_settings
from runtime import composition
from runtime.background import Background, start_background
from webhooks.metrics import refresh_outbox_gauges

log = logging.getLogger("cosource.api")
STATIC = Path(__file__).parent / "static"


async def healthz(request: Request) -> Response:
    """Liveness: the process answers. Nothing outside it is checked, so an orchestrator does not
    restart healthy processes during a database outage (that is /readyz's business)."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready to serve traffic: the database and Redis (when configured) reachable, and every
    migration applied. A new version whose migrations have not run yet is not ready."""
    checks, ready = await _dependencies(request)
    if checks.get("database") == "ok":
        try:
            pending = await db.pending_migrations()
        except Exception as exc:
            checks["migrations"] = f"error: {type(exc).__name__}"
            ready = False
        else:
            checks["migrations"] = "ok" if not pending else f"pending: {', '.join(pending)}"
            ready = ready and not pending
    return JSONResponse(
        {"status": "ready" if ready else "not ready", **checks}, status_code=200 if ready else 503
    )


async def _dependencies(request: Request) -> tuple[dict[str, str], bool]:
    checks: dict[str, str] = {}
    healthy = True
    try:
        await connections.get("default").execute_query("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # report, never raise: load balancers poll this
        checks["database"] = f"error: {type(exc).__name__}"
        healthy = False
    background: Background | None = getattr(request.app.state, "background", None)
    if background is not None and background.redis is not None:
        try:
            await background.redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
            healthy = False
    return checks, healthy


async def metrics(request: Request) -> Response:
    try:
        await refresh_outbox_gauges()  # the backlog as the database sees it, for every process
    except Exception:  # a scrape must not fail because the database is down
        log.warning("could not read the webhook outbox backlog", exc_info=True)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def _demo_page(hostile: bool = False) -> Response:
    key = get_settings().demo_publishable_key
    if not key:
        return HTMLResponse(
            "<p>The demo page needs the demo brand: run <code>cosource demo</code>.</p>",
            status_code=404,
        )
    page = (STATIC / "demo.html").read_text()
    if hostile:
        css = (STATIC / "demo-hostile.css").read_text()
        page = page.replace("<!--hostile-css-->", f"<style>{css}</style>").replace(
            "<!--hostile-markup-->", (STATIC / "demo-hostile.html").read_text()
        )
    page = page.replace("__COSOURCE_DEMO_KEY__", key).replace(
        "__COSOURCE_WIDGET_URL__", assets.widget_url()
    )
    return HTMLResponse(page)


async def demo(request: Request) -> Response:
    return _demo_page()


async def demo_hostile(request: Request) -> Response:
    """The same widgets next to deliberately hostile host CSS (what a real theme may do)."""
    return _demo_page(hostile=True)


async def demo_token(request: Request) -> Response:
    """Stands in for the brand's backend in the demo only: signs a token for a demo customer."""
    settings = get_settings()
    customer = request.query_params.get("customer", "")
    if not settings.demo_identity_secret or not customer.startswith("cus_") or len(customer) > 40:
        return JSONResponse({"error": "not available"}, status_code=404)
    tenant = Tenant(identity_secret=settings.demo_identity_secret)
    token = issue_member_token(tenant, MemberData(external_id=customer, verified=True))
    return JSONResponse({"token": token})


def configure_view(view: GraphQLView, background: Background, settings: Settings) -> None:
    """Limits, persisted queries and the result cache: shared through Redis when it is configured."""
    redis = background.redis
    limits = RateLimits(
        key=settings.rate_limit_per_minute,
        ip=settings.rate_limit_per_ip_per_minute,
        member=settings.rate_limit_per_member_per_minute,
        anonymous=settings.rate_limit_anonymous_per_minute,
    )
    # COSOURCE_RATE_LIMIT_PER_MINUTE=0 turns throttling off altogether (as it always did); the
    # narrower settings at 0 turn off only their own bucket.
    if limits.key <= 0:
        view.limiter = None
    else:
        counter = RedisRateLimiter(redis) if redis is not None else MemoryRateLimiter()
        view.limiter = RequestLimiter(counter, limits)
    view.persisted = PersistedQueries(redis)
    view.generations = background.generations
    view.cache = (
        ResultCache(ttl=settings.result_cache_seconds) if settings.result_cache_seconds else None
    )
    view.live = Broadcaster(redis)
    schema = view.schema
    if settings.compiled_reads and isinstance(schema, strawberry.Schema):
        view.plans = ReadPlans(schema._schema)
    else:
        view.plans = None
    # Every commit in this process bumps its tenant's generation (emptying its cached reads) and
    # tells subscribers which ideas changed.
    composition.install_process_hooks(
        background.queue, background.generations, LiveHooks(view.live)
    )


class App(Starlette):
    """Starlette, with persisted-query GETs that hit the result cache, and POSTs a compiled read
    plan answers, served before routing and middleware (api/front.py); every other request, and
    any such request the front path cannot answer, goes through the full app."""

    front: CacheHits | None = None
    posts: PlanPosts | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/graphql":
            arrived(scope)  # the request's deadline runs from here (api.view.GraphQLView.deadline)
            method = scope["method"]
            if method == "GET" and self.front is not None:
                scope["app"] = self  # as Starlette sets it (client_ip reads app.state)
                if await self.front(scope, send):
                    return
            elif method == "POST" and self.posts is not None:
                scope["app"] = self
                rest = await self.posts(scope, receive, send)
                if rest is None:
                    return
                receive = rest  # the body, when it was read, is replayed to the full app
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None, *, manage_db: bool = True) -> App:
    """``manage_db=False`` when the caller (tests, the CLI) already connected Tortoise."""
    settings = settings or get_settings()
    graphql = GraphQLView(
        build_schema(settings),
        graphql_ide="graphiql" if settings.graphiql else None,
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
    )
    graphql.debug = settings.debug
    graphql.timeout_seconds = settings.execution_timeout_seconds
    graphql.demo_key = settings.demo_publishable_key
    graphql.max_variable_depth = settings.max_variable_depth

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if manage_db:
            await composition.init_db(settings.database_url)
        app.state.background = await start_background(settings)
        configure_view(graphql, app.state.background, settings)
        live = graphql.live
        assert live is not None  # configure_view set it
        await live.start()
        # Impressions reported by widgets are written in batches (engine.exposure).
        flusher = asyncio.create_task(
            exposure.buffer().run(settings.impression_flush_seconds), name="impression-flush"
        )
        try:
            yield
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            await live.close()
            await app.state.background.close()
            if manage_db:
                await db.close_db()

    async def graphql_ws(websocket: WebSocket) -> None:
        await graphql(websocket.scope, websocket.receive, websocket.send)

    origins = KnownOrigins()
    graphql.origins = origins
    # One gate for POSTs, shared by the full app and the compiled-POST front path (api/front.py).
    gate = FairGate(settings.max_concurrent_requests or 2 * settings.db_pool_max)
    app = App(
        debug=settings.debug,
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql_ws),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            Route("/widget.js", assets.widget),
            Route("/widget/{version}.js", assets.widget_versioned),
            Route("/graphiql/{name}", assets.graphiql_asset),
            Route("/demo", demo),
            *console.ROUTES,
            Route("/demo/hostile", demo_hostile),
            Route("/demo/token", demo_token),
            *integrations.routes,
        ],
        middleware=[
            # Outermost: every answer (413s and CORS refusals included) has an id, a log line and
            # its metrics.
            Middleware(AccessLog),
            # A database outage under any route is a 503 with Retry-After (api.outage).
            Middleware(OutageAnswers),
            Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes),
            # Origins follow the publishable keys' allowed origins (api.cors), never "*".
            Middleware(PerKeyCORS, origins=origins),
            # Innermost: only requests that will run are admitted, one queue in arrival order.
            Middleware(RequestGate, gate=gate, deadlines=graphql),
        ],
        lifespan=lifespan,
    )
    app.front = CacheHits(graphql)
    app.posts = PlanPosts(graphql, gate, settings.max_body_bytes)
    app.state.graphql = graphql
    app.state.origins = origins
    # Read by api.ratelimit.client_ip: rate limits, the audit log and console sign-in alike.
    app.state.client_address = ClientAddress(settings.trusted_proxies)
    return app
