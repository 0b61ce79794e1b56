"""Browser assets (the widget, GraphiQL): compressed once per process, served with validators.

Storefronts embed ``/widget.js``, so that URL keeps a short cache life and revalidates with its
ETag (a 304 costs a few bytes). ``/widget/<version>.js`` and ``/graphiql/<file>?v=<version>`` carry
the content hash, so they may be cached for a year. Files are built by ``make assets`` and
committed (docs/architecture.md, "Storefront widget").
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import brotli
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

STATIC = Path(__file__).parent / "static"
SHORT = "public, max-age=300, stale-while-revalidate=86400"
IMMUTABLE = "public, max-age=31536000, immutable"
_TYPES = {
    ".js": "application/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzip: bytes
    br: bytes
    version: str
    media_type: str

    @property
    def etag(self) -> str:
        # Weak: the gzip, br and identity bodies are the same resource.
        return f'W/"{self.version}"'


@lru_cache(maxsize=32)
def load(relative: str) -> Asset:
    path = STATIC / relative
    body = path.read_bytes()
    return Asset(
        body=body,
        gzip=gzip.compress(body, compresslevel=9, mtime=0),
        # Quality 11 takes seconds on GraphiQL's 1.4 MB; 5 is within 12 % of it in a tenth of a second.
        br=brotli.compress(body, quality=11 if len(body) < 100_000 else 5),
        version=hashlib.sha256(body).hexdigest()[:12],
        media_type=_TYPES.get(path.suffix, "application/octet-stream"),
    )


def _accepts(request: Request, coding: str) -> bool:
    for part in request.headers.get("accept-encoding", "").split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() == coding:
            return params.replace(" ", "") not in {"q=0", "q=0.0", "q=0.00", "q=0.000"}
    return False


def _not_modified(request: Request, etag: str) -> bool:
    sent = request.headers.get("if-none-match")
    if not sent:
        return False
    tags = {t.strip().removeprefix("W/") for t in sent.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags


def serve(request: Request, asset: Asset, cache_control: str) -> Response:
    headers = {"ETag": asset.etag, "Cache-Control": cache_control, "Vary": "Accept-Encoding"}
    if _not_modified(request, asset.etag):
        return Response(status_code=304, headers=headers)
    if _accepts(request, "br"):
        body, headers["Content-Encoding"] = asset.br, "br"
    elif _accepts(request, "gzip"):
        body, headers["Content-Encoding"] = asset.gzip, "gzip"
    else:
        body = asset.body
    return Response(body, media_type=asset.media_type, headers=headers)


def widget_url() -> str:
    return f"/widget/{load('widget.min.js').version}.js"


def graphiql_url(name: str) -> str:
    return f"/graphiql/{name}?v={load('graphiql/' + name).version}"


async def _load(relative: str) -> Asset:
    """Compressing is CPU work: the first request for a file does it off the event loop."""
    return await asyncio.to_thread(load, relative)


async def widget(request: Request) -> Response:
    return serve(request, await _load("widget.min.js"), SHORT)


async def widget_versioned(request: Request) -> Response:
    asset = await _load("widget.min.js")
    if request.path_params["version"] != asset.version:
        # A page pinned to an older build gets today's (never a 404 on a storefront).
        return RedirectResponse(widget_url(), status_code=302, headers={"Cache-Control": SHORT})
    return serve(request, asset, IMMUTABLE)


GRAPHIQL_FILES = frozenset(
    {
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
        "react-dom.production.min.js",
        "init.js",
        "THIRD-PARTY-LICENSES.txt",
    }
)


async def graphiql_asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in GRAPHIQL_FILES:
        return Response("not found", status_code=404, media_type="text/plain")
    asset = await _load("graphiql/" + name)
    versioned = request.query_params.get("v") == asset.version
    return serve(request, asset, IMMUTABLE if versioned else SHORT)
