"""GraphiQL served from Cosource's own files (no CDN): works offline and under a strict CSP.

It opens with an example query and, under ``cosource demo``, the demo publishable key in the
headers editor; elsewhere the headers editor shows where a key goes.
"""

from __future__ import annotations

import html

import orjson
from starlette.responses import HTMLResponse

from api.assets import graphiql_url
from api.auth import KEY_HEADER

EXAMPLE_QUERY = """# Welcome to Cosource's GraphQL API.
# A publishable key goes in the X-Cosource-Key header (public reads; add
# "Authorization": "Bearer <member JWT>" for a member's actions); a secret key
# goes in "Authorization": "Bearer sk_...". Press the run button to try it.
query Campaigns {
  campaigns(first: 5) {
    totalCount
    edges {
      node {
        slug
        title
        mode
        isOpen
        ideas(orderBy: TOP, first: 3) {
          totalCount
          edges { node { title status counts { netVotes pledgedQuantity } } }
        }
      }
    }
  }
}
"""

# GraphiQL sets inline styles; scripts come only from this origin.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self' ws: wss:; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def graphiql_page(endpoint: str, demo_key: str | None) -> HTMLResponse:
    headers = {KEY_HEADER.title(): demo_key or "pk_your_publishable_key"}
    config = {
        "endpoint": endpoint,
        "query": EXAMPLE_QUERY,
        "headers": orjson.dumps(headers, option=orjson.OPT_INDENT_2).decode(),
    }
    # JSON inside <script type="application/json"> is data, not code; only "</" needs escaping.
    data = orjson.dumps(config).decode().replace("</", "<\\/")
    scripts = "".join(
        f'<script src="{html.escape(graphiql_url(name))}"></script>'
        for name in ("react.production.min.js", "react-dom.production.min.js", "graphiql.min.js")
    )
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cosource GraphiQL</title>
<link rel="stylesheet" href="{html.escape(graphiql_url("graphiql.min.css"))}">
</head>
<body style="margin:0">
<div id="graphiql" style="height:100vh">Loading GraphiQL…</div>
<script type="application/json" id="cosource-graphiql">{data}</script>
{scripts}<script src="{html.escape(graphiql_url("init.js"))}"></script>
</body>
</html>
"""
    return HTMLResponse(page, headers={"Content-Security-Policy": CSP})
