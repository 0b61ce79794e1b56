"""GraphiQL at /graphql in Chromium with every non-local request refused (an offline install)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import pytest

from tests.browser.conftest import Demo

pytestmark = pytest.mark.browser


async def test_graphiql_renders_offline_and_runs_the_example_query(
    browser: Any, demo: Demo
) -> None:
    context = await browser.new_context()
    outside: list[str] = []

    async def offline(route: Any) -> None:
        if urlparse(route.request.url).hostname in {"127.0.0.1", "localhost"}:
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort("internetdisconnected")

    await context.route("**/*", offline)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    csp: list[str] = []
    page.on(
        "console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None
    )
    await page.goto(f"{demo.base}/graphql")
    await page.wait_for_selector(".graphiql-container", timeout=20_000)
    editor = await page.locator(".graphiql-query-editor").inner_text()
    assert "query Campaigns" in editor and "X-Cosource-Key" in editor
    # Under `cosource demo` the demo publishable key is in the headers editor already.
    headers = await page.locator(".graphiql-editor-tool").inner_text()
    assert demo.publishable_key in headers.replace("\n", "")
    await page.locator(".graphiql-execute-button").click()
    # The result editor is CodeMirror, which renders only visible lines: read its value.
    value = "() => document.querySelector('.result-window .CodeMirror')?.CodeMirror.getValue()"
    result = ""
    for _ in range(100):  # wait_for_function would eval a string, which this page's CSP forbids
        result = await page.evaluate(value) or ""
        if "brew-next" in result:
            break
        await page.wait_for_timeout(200)
    assert "What should we brew next?" in result and "tee-contest" in result
    assert outside == [] and errors == [] and csp == [], (outside, errors, csp)
