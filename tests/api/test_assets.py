"""/widget.js and the GraphiQL assets: minified, compressed, cacheable, revalidated with ETags."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import brotli
import pytest

from api import assets

ROOT = Path(__file__).resolve().parents[2]
BUDGET = 25 * 1024  # gzipped bytes the storefront widget may cost


async def test_widget_is_served_compressed_with_validators(api) -> None:
    plain = (ROOT / "api/static/widget.min.js").read_bytes()
    br = await api.client.get("/widget.js", headers={"Accept-Encoding": "gzip, br"})
    assert br.status_code == 200
    assert br.headers["content-encoding"] == "br"
    assert br.headers["content-type"].startswith("application/javascript")
    assert br.headers["cache-control"] == assets.SHORT
    assert "Accept-Encoding" in br.headers["vary"]
    assert br.content == plain  # httpx decodes br
    gz = await api.client.get("/widget.js", headers={"Accept-Encoding": "gzip"})
    assert gz.headers["content-encoding"] == "gzip" and gz.content == plain
    identity = await api.client.get("/widget.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in identity.headers and identity.content == plain
    etag = br.headers["etag"]
    assert etag == gz.headers["etag"]
    again = await api.client.get("/widget.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    other = await api.client.get("/widget.js", headers={"If-None-Match": '"nope"'})
    assert other.status_code == 200


async def test_versioned_widget_url_is_immutable(api) -> None:
    url = assets.widget_url()
    response = await api.client.get(url)
    assert response.status_code == 200
    assert response.headers["cache-control"] == assets.IMMUTABLE
    stale = await api.client.get("/widget/000000000000.js", follow_redirects=False)
    assert stale.status_code == 302 and stale.headers["location"] == url


def test_widget_fits_the_budget_minified() -> None:
    source = (ROOT / "widget/cosource-ideas.js").read_bytes()
    built = (ROOT / "api/static/widget.min.js").read_bytes()
    assert len(built) < len(source) * 0.75  # minified, not copied
    assert b"\n  " not in built
    assert len(gzip.compress(built, 9)) <= BUDGET
    assert len(brotli.compress(built)) <= BUDGET


@pytest.mark.skipif(
    not (ROOT / "node_modules/.bin/esbuild").exists() or not shutil.which("node"),
    reason="node_modules missing: `make assets` installs them",
)
def test_committed_build_matches_the_source(tmp_path: Path) -> None:
    """`make assets` was run after the last change to widget/cosource-ideas.js."""
    out = tmp_path / "widget.min.js"
    subprocess.run(
        [
            str(ROOT / "node_modules/.bin/esbuild"),
            str(ROOT / "widget/cosource-ideas.js"),
            "--minify",
            "--target=es2020",
            "--charset=utf8",
            "--legal-comments=none",
            "--log-level=warning",
            f"--outfile={out}",
        ],
        check=True,
    )
    assert out.read_bytes() == (ROOT / "api/static/widget.min.js").read_bytes()


async def test_graphiql_is_served_locally_with_an_example_query(api) -> None:
    page = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "unpkg" not in page.text and "jsdelivr" not in page.text and "https://" not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "query Campaigns" in page.text and "X-Cosource-Key" in page.text
    for name in ("graphiql.min.js", "graphiql.min.css", "react.production.min.js", "init.js"):
        url = assets.graphiql_url(name)
        assert url in page.text
        response = await api.client.get(url)
        assert response.status_code == 200, name
        assert response.headers["cache-control"] == assets.IMMUTABLE
    missing = await api.client.get("/graphiql/../app.py")
    assert missing.status_code == 404


async def test_unauthenticated_names_the_header_a_key_goes_in(api) -> None:
    response = await api.client.post("/graphql", json={"query": "{ campaigns { totalCount } }"})
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "X-Cosource-Key" in error["message"]
    wrong = await api.client.post(
        "/graphql",
        json={"query": "{ campaigns { totalCount } }"},
        headers={"X-Cosource-Key": "pk_wrong"},
    )
    error = wrong.json()["errors"][0]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "x-cosource-key header" in error["message"].lower()
