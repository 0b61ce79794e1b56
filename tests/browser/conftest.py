"""Headless Chromium (Debian's package, driven by Playwright) against a real `cosource demo` server."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.processes import free_port

CHROMIUM = os.environ.get("COSOURCE_CHROMIUM", "/usr/bin/chromium")
HAVE_BROWSER = bool(shutil.which(CHROMIUM))
ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    browser_tests = [item for item in items if "tests/browser" in str(item.fspath)]
    for item in browser_tests:
        # Under `pytest -n` (make test) one worker runs them all: one demo server, one Chromium.
        item.add_marker(pytest.mark.xdist_group("browser"))
    if HAVE_BROWSER or os.environ.get("COSOURCE_REQUIRE_BROWSER"):
        return
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (CI installs it)")
    for item in browser_tests:
        item.add_marker(skip)


@dataclass
class Demo:
    base: str
    secret_key: str
    publishable_key: str
    console_email: str = ""
    console_password: str = ""

    def gql(self, query: str, variables: dict[str, Any] | None = None, **headers: str) -> Any:
        """A request from this test process: another client than the browser."""
        response = httpx.post(
            f"{self.base}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
            timeout=10,
        )
        body = response.json()
        assert not body.get("errors"), body
        return body["data"]

    def secret(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        return self.gql(query, variables, authorization=f"Bearer {self.secret_key}")

    def token(self, customer: str) -> str:
        return str(
            httpx.get(f"{self.base}/demo/token", params={"customer": customer}).json()["token"]
        )

    def as_member(self, customer: str, query: str, variables: dict[str, Any] | None = None) -> Any:
        return self.gql(
            query,
            variables,
            **{
                "x-cosource-key": self.publishable_key,
                "authorization": f"Bearer {self.token(customer)}",
            },
        )

    def idea_id(self, title: str) -> str:
        data = self.secret(
            "query($s:String!){ideas(search:$s, first:5){edges{node{id title}}}}", {"s": title}
        )
        return next(e["node"]["id"] for e in data["ideas"]["edges"] if e["node"]["title"] == title)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    port = free_port()
    folder = tmp_path_factory.mktemp("demo")
    env = {
        **os.environ,
        "COSOURCE_DATABASE_URL": f"sqlite://{folder / 'demo.db'}",
        "COSOURCE_PORT": str(port),
        "COSOURCE_REDIS_URL": "",
        "COSOURCE_RATE_LIMIT_PER_MINUTE": "0",
        # The console's webhook test delivers to a receiver on this machine.
        "COSOURCE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
    }
    log_path = folder / "demo.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "demo"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # migrating and seeding on a loaded machine
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, log_path.read_text()
            time.sleep(0.3)
        else:
            raise AssertionError("demo server did not start: " + log_path.read_text())
        printed = re.sub(r"\s+", " ", log_path.read_text())
        secret = re.search(r"secret key (sk_\S+)", printed)
        public = re.search(r"publishable key (pk_\S+)", printed)
        owner = re.search(r"console email (\S+) console password (\S+)", printed)
        assert secret and public and owner, printed
        yield Demo(base, secret.group(1), public.group(1), owner.group(1), owner.group(2))
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@pytest.fixture(scope="session")
async def _chromium() -> AsyncIterator[Any]:
    """One Chromium for the session: launching it costs more than most browser tests."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def browser(_chromium: Any) -> AsyncIterator[Any]:
    """The session's Chromium; every context a test opens (cookies, storage, pages) is closed
    after it, so no test sees another's."""
    assert not _chromium.contexts, "a context outlived the test that opened it"
    try:
        yield _chromium
    finally:
        for context in list(_chromium.contexts):
            await context.close()


async def open_demo(
    browser: Any, base: str, query: str = "", path: str = "/demo", **context: Any
) -> Any:
    """The demo storefront with both widgets rendered; page errors are collected in page.errors."""
    page = await (await browser.new_context(**context)).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{base}{path}{query}")
    await page.wait_for_selector('#brew[data-state="ready"] .idea')
    await page.wait_for_selector('#tees[data-state="ready"] .idea')
    page.errors = errors
    return page


async def settle(page: Any, widget: str = "#brew") -> None:
    """Wait until the widget finished what it was doing (data-state goes back to ready)."""
    await page.wait_for_selector(f'{widget}[data-state="ready"]')


def idea(page: Any, title: str, widget: str = "#brew") -> Any:
    return page.locator(f"{widget} .idea", has=page.locator(".open", has_text=title))


async def has_focus(locator: Any) -> bool:
    return bool(await locator.evaluate("el => el.getRootNode().activeElement === el"))


async def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core (npm, vendored at build time into node_modules; never served) on the whole page."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make assets` (npm ci)")
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate(
        """() => axe.run(document, {runOnly: {type: 'tag',
             values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"""
    )
    return [
        {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
    ]


SCREENSHOTS = os.environ.get("COSOURCE_SCREENSHOTS")


async def screenshot(target: Any, name: str, tmp_path: Path, **options: Any) -> Path:
    """Screenshots go to tmp_path; `make screenshots` sets COSOURCE_SCREENSHOTS=docs/img."""
    folder = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    await target.screenshot(path=str(path), **options)  # a page or one element
    assert path.stat().st_size > 5000
    return path
