"""Live counts: another process votes, the open page changes without a reload."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import Demo, idea, open_demo

pytestmark = pytest.mark.browser

VOTE = "mutation($i:ID!){vote(input:{ideaId:$i, value: UP}){userErrors{code}}}"
NET = """([title]) => [...document.querySelector('#brew').shadowRoot.querySelectorAll('.idea')]
  .find(li => li.querySelector('.open').textContent === title).querySelector('.net').textContent"""


async def _net(page: Any, title: str) -> int:
    return int(await page.evaluate(NET, [title]))


async def test_a_vote_from_another_process_moves_the_count_and_the_authors_points(
    browser: Any, demo: Demo
) -> None:
    page = await open_demo(browser, demo.base, "?customer=cus_1004")  # Barbara
    await page.wait_for_selector('#brew[data-live="websocket"]')
    title = "Compostable pods"  # Barbara's idea
    before = await _net(page, title)
    me = page.locator("#brew .me")
    points_before = await me.locator(".points").inner_text()
    progress_before = await me.locator("progress").get_attribute("value")
    # The same DOM row must be updated in place: mark it.
    await idea(page, title).evaluate("li => { li.__marker = 1; }")
    data = demo.as_member("cus_2001", VOTE, {"i": demo.idea_id(title)})  # a new shopper
    assert data["vote"]["userErrors"] == []
    await page.wait_for_function(f"([t, n]) => ({NET})([t]) === String(n)", arg=[title, before + 1])
    assert await idea(page, title).evaluate("li => li.__marker") == 1
    # Points arrive once the reputation engine has run (after the vote's commit).
    await page.wait_for_function(
        """(before) => document.querySelector('#brew').shadowRoot
             .querySelector('.me .points').textContent !== before""",
        arg=points_before,
        timeout=15_000,
    )
    points_after = await me.locator(".points").inner_text()
    assert int(re.sub(r"\D", "", points_after)) > int(re.sub(r"\D", "", points_before))
    assert await me.locator("progress").get_attribute("value") != progress_before
    assert page.errors == []


async def test_with_websockets_blocked_polling_with_etags_does_it(browser: Any, demo: Demo) -> None:
    context = await browser.new_context()
    await context.route_web_socket(re.compile(".*"), lambda ws: ws.close())
    page = await context.new_page()
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status) if "/graphql?" in r.url else None)
    await page.goto(f"{demo.base}/demo?poll=1")
    await page.wait_for_selector('#brew[data-live="polling"] .idea')
    title = "Single-origin tasting flights"
    before = await _net(page, title)
    await page.wait_for_timeout(2500)  # a few polls with nothing new: 304s
    assert 304 in statuses, statuses
    data = demo.as_member("cus_2002", VOTE, {"i": demo.idea_id(title)})
    assert data["vote"]["userErrors"] == []
    await page.wait_for_function(
        f"([t, n]) => ({NET})([t]) === String(n)", arg=[title, before + 1], timeout=15_000
    )
