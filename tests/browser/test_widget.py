"""The storefront widget in real headless Chromium against a real `cosource demo` server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

CHROMIUM = os.environ.get("COSOURCE_CHROMIUM", "/usr/bin/chromium")
if not shutil.which(CHROMIUM) and not os.environ.get("COSOURCE_REQUIRE_BROWSER"):
    pytest.skip(f"no Chromium at {CHROMIUM} (CI installs it)", allow_module_level=True)

from playwright.async_api import Browser, Page, async_playwright  # noqa: E402

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    db_path = tmp_path_factory.mktemp("demo") / "demo.db"
    env = {
        **os.environ,
        "COSOURCE_DATABASE_URL": f"sqlite://{db_path}",
        "COSOURCE_PORT": str(port),
        "COSOURCE_REDIS_URL": "",
    }
    log = (tmp_path_factory.getbasetemp() / "demo.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "demo"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, Path(log.name).read_text()
            time.sleep(0.3)
        else:
            raise AssertionError("demo server did not start: " + Path(log.name).read_text())
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield browser
        finally:
            await browser.close()


async def _sign_in(page: Page, customer: str) -> None:
    """Switch the demo's customer and wait until both widgets re-rendered for them."""
    await page.select_option("#customer", customer)  # sets data-state=loading synchronously
    await page.wait_for_selector('#brew[data-state="ready"]')
    await page.wait_for_selector('#tees[data-state="ready"]')


async def _open(browser: Browser, base: str) -> Page:
    page = await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{base}/demo")
    await page.wait_for_selector('#brew[data-state="ready"] .cs-idea')
    await page.wait_for_selector('#tees[data-state="ready"] .cs-idea')
    page.errors = errors  # type: ignore[attr-defined]
    return page


def _idea(page: Page, title: str):
    return page.locator("#brew .cs-idea", has=page.locator(".cs-title", has_text=title))


async def test_guest_reads_are_persisted_gets_served_from_the_cache(
    browser: Browser, demo_server: str
) -> None:
    await _open(browser, demo_server)  # registers the persisted query
    page = await browser.new_page()
    reads: list[tuple[str, int, str | None]] = []
    page.on(
        "response",
        lambda r: (
            reads.append((r.request.method, r.status, r.headers.get("etag")))
            if "/graphql" in r.url
            else None
        ),
    )
    await page.goto(f"{demo_server}/demo")
    await page.wait_for_selector("#brew .cs-idea")
    await page.wait_for_selector("#tees .cs-idea")
    gets = [r for r in reads if r[0] == "GET"]
    assert len(gets) == 2 and all(status == 200 and etag for _, status, etag in gets), reads
    assert not [r for r in reads if r[0] == "POST"], reads


async def test_guest_sees_ideas_and_is_asked_to_sign_in(browser: Browser, demo_server: str) -> None:
    page = await _open(browser, demo_server)
    assert await page.locator("#brew .cs-idea").count() == 6
    assert await page.locator("#tees .cs-idea").count() == 3
    assert await page.locator("#brew .cs-campaign").inner_text() == "What should we brew next?"
    await _idea(page, "Refill station for beans").locator(".cs-up").click()
    await page.wait_for_selector("#brew .cs-notice")
    assert "Sign in" in await page.locator("#brew .cs-notice").inner_text()
    assert page.errors == []  # type: ignore[attr-defined]


async def test_member_votes_and_the_count_moves_in_the_database(
    browser: Browser, demo_server: str
) -> None:
    page = await _open(browser, demo_server)
    await _sign_in(page, "cus_1003")  # Linus
    idea = _idea(page, "Compostable pods")  # by Barbara
    before = int(await idea.locator(".cs-net").inner_text())
    was_up = "cs-on" in (await idea.locator(".cs-up").get_attribute("class") or "")
    await idea.locator(".cs-up").click()
    expected = before - 1 if was_up else before + 1
    await page.wait_for_function(
        """([title, expected]) => [...document.querySelectorAll('#brew .cs-idea')]
             .some(li => li.querySelector('.cs-title').textContent === title
                   && li.querySelector('.cs-net').textContent === String(expected))""",
        arg=["Compostable pods", expected],
    )
    # The server agrees (a fresh page load reads the database).
    fresh = await _open(browser, demo_server)
    assert int(await _idea(fresh, "Compostable pods").locator(".cs-net").inner_text()) == expected


async def test_submitted_idea_appears_and_markup_is_not_executed(
    browser: Browser, demo_server: str
) -> None:
    page = await _open(browser, demo_server)
    await _sign_in(page, "cus_1005")
    title = "<img src=x onerror=window.__pwned=1> zebra latte"
    await page.fill("#brew input[name=title]", title)
    await page.fill("#brew textarea[name=body]", "<script>window.__pwned=2</script>")
    await page.click("#brew .cs-form button[type=submit]")
    await page.wait_for_selector("#brew .cs-title >> text=zebra latte")
    assert await page.evaluate("window.__pwned") is None
    assert title in await page.locator("#brew").inner_text()
    # Self-votes are refused with the engine's message.
    await _idea(page, "zebra latte").locator(".cs-up").click()
    await page.wait_for_selector("#brew .cs-notice")
    assert "own idea" in await page.locator("#brew .cs-notice").inner_text()
