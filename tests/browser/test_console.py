"""The brand console in real Chromium against the `cosource demo` server, signed in as its owner."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import Demo, axe_violations, has_focus, screenshot
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.browser

ANSWERED = "Loyalty card in the app"  # an idea the widget tests leave alone
# Seeded by api/seed.py: an idea hidden after an upheld report, and open reports with reasons.
HIDDEN = "Free espresso for life"
FLAGGED = {"Decaf that tastes like coffee", "Refill station for beans"}
RESOLVED = "Decaf that tastes like coffee"
# Merged and unmerged again by the merge test, so the widget tests find them as seeded.
MERGE_SOURCE = "Compostable pods"
MERGE_TARGET = "Single-origin tasting flights"
CHARTS = ("weekly", "daily", "concentration", "responses", "demand")
COUNTS = "query($i: ID!) { idea(id: $i) { mergedInto { id } counts { upvotes downvotes netVotes pledgers pledgedQuantity comments } } }"


async def sign_in(browser: Any, demo: Demo, **context: Any) -> Any:
    """Through the form, as a person would; the page is ready once every section loaded."""
    page = await (await browser.new_context(**context)).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{demo.base}/console")
    await page.get_by_label("Brand").fill("demo")
    await page.get_by_label("Email").fill(demo.console_email)
    await page.get_by_label("Password").fill(demo.console_password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_selector('#console[data-state="ready"]')
    page.errors = errors
    return page


async def reload(page: Any) -> None:
    await page.reload()
    await page.wait_for_selector('#console[data-state="ready"]')


async def test_a_wrong_password_is_refused_on_the_form(browser: Any, demo: Demo) -> None:
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{demo.base}/console")
    await page.get_by_label("Brand").fill("demo")
    await page.get_by_label("Email").fill(demo.console_email)
    await page.get_by_label("Password").fill("not the password at all")
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_selector('.error[role="alert"]')
    assert await page.locator("#console").count() == 0


async def test_the_owner_answers_an_idea_and_the_member_sees_the_note(
    browser: Any, demo: Demo
) -> None:
    page = await sign_in(browser, demo)
    row = page.locator("#ideas article", has=page.get_by_role("heading", name=ANSWERED))
    await row.get_by_label(f"New status for {ANSWERED}").select_option("ACCEPTED")
    await row.get_by_label(f"Official note for {ANSWERED}").fill("In the app this spring.")
    await row.get_by_role("button", name="Answer").click()
    await page.wait_for_selector(f'#status:has-text("Answered “{ANSWERED}”.")')
    seen = demo.gql(
        "query($i: ID!) { idea(id: $i) { status responses { note } } }",
        {"i": demo.idea_id(ANSWERED)},
        **{"x-cosource-key": demo.publishable_key},
    )
    assert seen["idea"] == {
        "status": "ACCEPTED",
        "responses": [{"note": "In the app this spring."}],
    }
    await reload(page)  # the status line is written before the lists reload
    assert "accepted" in (await row.locator("p").text_content() or "")
    log = await page.locator("#audit .row").first.text_content()
    assert log and demo.console_email in log and "setIdeaStatus" in log
    assert page.errors == []


async def test_retrying_a_failed_delivery_reaches_the_receiver(browser: Any, demo: Demo) -> None:
    with Receiver() as receiver:
        # 429 first: the schedule then waits at least a minute before its own next attempt
        # (webhooks/schedule.py), so the second attempt is the button's, however slow the page.
        receiver.program(429, then=200)
        created = demo.secret(
            "mutation($u: String!) { createWebhookEndpoint(input: {url: $u,"
            ' eventTypes: ["webhook.test"]}) { endpoint { id } secret userErrors { code message } } }',
            {"u": receiver.url()},
        )["createWebhookEndpoint"]
        assert created["userErrors"] == [], created
        receiver.set_secrets(created["secret"])
        sent = demo.secret(
            "mutation($e: ID!) { sendTestWebhook(input: {id: $e}) { delivery { id } userErrors { code } } }",
            {"e": created["endpoint"]["id"]},
        )["sendTestWebhook"]
        assert sent["userErrors"] == [], sent
        delivery = sent["delivery"]["id"]
        first = await receiver.wait_for_async(1, timeout=20)
        assert first[0].verified, first[0].verify_error
        page = await sign_in(browser, demo)
        row = page.locator(f'#webhooks article[data-delivery="{delivery}"]')
        await page.wait_for_function(
            'id => document.querySelector(`#webhooks [data-delivery="${id}"]`)'
            "?.textContent.includes('last 429')",
            arg=delivery,
        )
        await row.get_by_role("button", name="Retry").click()
        await page.wait_for_selector('#status:has-text("Delivery queued again.")')
        await receiver.wait_for_async(2, timeout=20)
        for _ in range(50):  # the success is recorded right after the receiver answered
            await reload(page)
            if "succeeded" in (await row.text_content() or ""):
                break
            await asyncio.sleep(0.2)
        text = await row.text_content() or ""
        assert "succeeded" in text and "2 attempt(s)" in text and "last 200" in text, text


async def test_no_axe_violations_signed_out_and_signed_in(browser: Any, demo: Demo) -> None:
    # axe-core is injected as an inline script, which the console's CSP (rightly) refuses; only
    # this test's browser ignores the CSP, every other test runs under it.
    page = await (await browser.new_context(bypass_csp=True)).new_page()
    await page.goto(f"{demo.base}/console")
    assert await axe_violations(page) == []
    signed_in = await sign_in(browser, demo, bypass_csp=True)
    assert await axe_violations(signed_in) == []


async def test_keyboard_focus_is_visible(browser: Any, demo: Demo) -> None:
    page = await sign_in(browser, demo)
    outlines = []
    for _ in range(6):
        await page.keyboard.press("Tab")
        outlines.append(
            await page.evaluate(
                """() => { const el = document.activeElement, cs = getComputedStyle(el);
                     return [el.tagName, cs.outlineStyle, parseFloat(cs.outlineWidth)]; }"""
            )
        )
    focusable = [o for o in outlines if o[0] in ("BUTTON", "INPUT", "SELECT", "A")]
    assert focusable, outlines
    assert all(style != "none" and width >= 2 for _, style, width in focusable), outlines
    assert await has_focus(page.locator(":focus"))


@pytest.mark.parametrize(("name", "width"), [("console-desktop", 1280), ("console-tablet", 768)])
async def test_screenshots(browser: Any, demo: Demo, tmp_path: Path, name: str, width: int) -> None:
    page = await sign_in(browser, demo, viewport={"width": width, "height": 900})
    await screenshot(page, name, tmp_path, full_page=False)
    overflow = await page.evaluate("document.documentElement.scrollWidth - innerWidth")
    assert overflow <= 0  # nothing wider than the window
    # The ideas section with a merge preview open, and the insights with their charts.
    row = idea_row(page, MERGE_SOURCE)
    await row.get_by_role("button", name="Merge…").click()
    await row.get_by_label(f"Merge “{MERGE_SOURCE}” into").select_option(label=MERGE_TARGET)
    await row.get_by_role("button", name="Preview merge").click()
    await row.locator("table.merge-counts").wait_for()
    await screenshot(row, name.replace("console", "console-merge"), tmp_path)
    await page.locator('#insights [data-chart="demand"] canvas').wait_for()
    await screenshot(
        page.locator("#insights"), name.replace("console", "console-insights"), tmp_path
    )
    overflow = await page.evaluate("document.documentElement.scrollWidth - innerWidth")
    assert overflow <= 0


def test_signed_out_console_is_only_the_form(demo: Demo) -> None:
    body = httpx.get(f"{demo.base}/console").text
    assert 'action="/console/login"' in body and 'id="console"' not in body


async def test_the_insights_chart_draws_weekly_participation(browser: Any, demo: Demo) -> None:
    page = await sign_in(browser, demo)
    csp: list[str] = []
    page.on("console", lambda msg: csp.append(msg.text) if "Content Security" in msg.text else None)
    await reload(page)
    canvas = page.locator('#insights [data-chart="weekly"] .chart canvas')
    await canvas.wait_for()
    painted = await canvas.evaluate(
        """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
             let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }"""
    )
    assert painted > 500  # axes, grid and the two lines, not a blank canvas
    weeks = await page.locator("#insights table.weekly tbody tr").count()
    assert weeks == 8
    cells = (
        await page.locator("#insights table.weekly tbody tr").last.locator("td").all_text_contents()
    )
    assert int(cells[1]) > 0  # the demo's members took part this week
    legend = await page.locator('#insights [data-chart="weekly"] .u-legend').text_content() or ""
    assert "Participants" in legend and "New" in legend
    assert csp == [] and page.errors == []


def test_the_chart_library_is_served_by_cosource(demo: Demo) -> None:
    vendored = httpx.get(f"{demo.base}/console/vendor/uPlot.iife.min.js")
    assert vendored.status_code == 200 and "uPlot" in vendored.text
    assert httpx.get(f"{demo.base}/console/vendor/LICENSE").status_code == 404  # listed names only


def idea_row(page: Any, title: str) -> Any:
    return page.locator("#ideas article", has=page.get_by_role("heading", name=title, exact=True))


async def listed(page: Any) -> list[str]:
    """The idea titles once the list is redrawn (it is aria-busy from a filter change until then)."""
    await page.wait_for_selector("#ideas .list:not([aria-busy])")
    return list(await page.locator("#ideas article h3").all_text_contents())


async def test_filters_narrow_the_ideas_and_only_the_hidden_filter_shows_hidden_ones(
    browser: Any, demo: Demo
) -> None:
    page = await sign_in(browser, demo)
    everything = await listed(page)
    assert MERGE_TARGET in everything and HIDDEN not in everything
    await page.locator("#ideas .filters").get_by_label("Hidden").check()
    assert await listed(page) == [HIDDEN]
    assert "hidden" in (await idea_row(page, HIDDEN).locator("p").first.text_content() or "")
    await page.locator("#ideas .filters").get_by_label("Hidden").uncheck()
    await page.locator("#ideas .filters").get_by_label("Flagged").check()
    flagged = await listed(page)
    assert flagged and set(flagged) <= FLAGGED, flagged
    await page.locator("#ideas .filters").get_by_label("Flagged").uncheck()
    await (
        page.locator("#ideas .filters")
        .get_by_label("Status", exact=True)
        .select_option("UNDER_REVIEW")
    )
    assert await listed(page) == ["Oat-milk cold brew in cans"]  # answered by the seed
    await page.locator("#ideas .filters").get_by_label("Status", exact=True).select_option("")
    await page.locator("#ideas .filters").get_by_label("Awaiting a response").check()
    awaiting = await listed(page)
    expected = demo.secret(
        "{ ideas(awaitingResponse: true, first: 50) { edges { node { title } } } }"
    )
    assert sorted(awaiting) == sorted(e["node"]["title"] for e in expected["ideas"]["edges"])
    await page.locator("#ideas .filters").get_by_label("Awaiting a response").uncheck()
    await (
        page.locator("#ideas .filters")
        .get_by_label("Campaign", exact=True)
        .select_option(label="Design our next tee")
    )
    tees = await listed(page)
    assert tees and "Bean constellation tee" in tees and MERGE_TARGET not in tees
    assert page.errors == []


async def test_merge_shows_the_counts_that_move_then_merges_and_unmerges(
    browser: Any, demo: Demo
) -> None:
    source, target = demo.idea_id(MERGE_SOURCE), demo.idea_id(MERGE_TARGET)
    before = {i: demo.secret(COUNTS, {"i": i})["idea"]["counts"] for i in (source, target)}
    page = await sign_in(browser, demo)
    row = idea_row(page, MERGE_SOURCE)
    await row.get_by_role("button", name="Merge…").click()
    await row.get_by_label(f"Merge “{MERGE_SOURCE}” into").select_option(label=MERGE_TARGET)
    await row.get_by_role("button", name="Preview merge").click()
    table = row.locator("table.merge-counts")
    await table.wait_for()
    shown: dict[str, list[int]] = {}
    for name in ("upvotes", "downvotes", "netVotes", "pledgers", "pledgedQuantity", "comments"):
        cells = await table.locator(f'tr[data-count="{name}"] td').all_text_contents()
        shown[name] = [int(c) for c in cells]
    assert {k: v[0] for k, v in shown.items()} == before[source]  # this idea
    assert {k: v[1] for k, v in shown.items()} == before[target]  # the target now
    assert "comment(s) stay on this idea" in (await row.locator(".moves").text_content() or "")
    assert demo.secret(COUNTS, {"i": source})["idea"]["mergedInto"] is None  # nothing yet

    await row.get_by_role("button", name="Confirm merge").click()
    await page.wait_for_selector(f'#status:has-text("Merged “{MERGE_SOURCE}” into")')
    merged = demo.secret(COUNTS, {"i": source})["idea"]
    assert merged["mergedInto"] == {"id": target}
    after = demo.secret(COUNTS, {"i": target})["idea"]["counts"]
    assert after == {k: v[2] for k, v in shown.items()} | {"comments": before[target]["comments"]}
    assert MERGE_SOURCE not in await listed(page)

    await page.locator("#ideas .filters").get_by_label("Merged").check()
    assert MERGE_SOURCE in await listed(page)
    await idea_row(page, MERGE_SOURCE).get_by_role("button", name="Unmerge").click()
    await page.wait_for_selector(f'#status:has-text("Unmerged “{MERGE_SOURCE}”.")')
    assert demo.secret(COUNTS, {"i": source})["idea"]["mergedInto"] is None
    assert demo.secret(COUNTS, {"i": target})["idea"]["counts"] == before[target]
    assert MERGE_SOURCE not in await listed(page)  # still under the Merged filter
    assert page.errors == []


async def test_a_flag_is_resolved_in_one_click_with_its_reason_shown(
    browser: Any, demo: Demo
) -> None:
    page = await sign_in(browser, demo)
    row = page.locator("#moderation article", has=page.get_by_role("heading", name=RESOLVED))
    reason = await row.locator(".reason").text_content()
    assert reason == "Reason: other — Names a competitor's decaf brand."
    await row.get_by_role("button", name="Dismiss").click()
    await page.wait_for_selector(f'#status:has-text("Flag on “{RESOLVED}” dismissed.")')
    await row.wait_for(state="detached")
    dismissed = demo.secret(
        "{ moderationQueue(status: DISMISSED) { edges { node { idea { title } resolvedAt } } } }"
    )
    titles = [e["node"]["idea"]["title"] for e in dismissed["moderationQueue"]["edges"]]
    assert RESOLVED in titles
    assert page.errors == []


async def test_every_insights_chart_draws_with_a_table_of_its_numbers(
    browser: Any, demo: Demo
) -> None:
    page = await sign_in(browser, demo)
    picker = page.locator("#insights").get_by_label("Campaign", exact=True)
    await picker.select_option(label="What should we brew next?")
    await page.wait_for_selector('#insights table.weekly caption:has-text("What should we brew")')
    for name in CHARTS:
        block = page.locator(f'#insights [data-chart="{name}"]')
        canvas = block.locator(".chart canvas")
        await canvas.wait_for()
        painted = await canvas.evaluate(
            """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                 let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }"""
        )
        assert painted > 500, name
        assert await block.locator("table tbody tr").count() > 0, name
    demand = await page.locator("#insights table.demand").text_content() or ""
    seeded = demo.secret(
        "query($c: ID!) { campaignInsights(campaignId: $c) { demand { pledgedQuantity } } }",
        {"c": demo.secret('{ campaign(slug: "brew-next") { id } }')["campaign"]["id"]},
    )["campaignInsights"]["demand"]["pledgedQuantity"]
    assert f"Pledged quantity{seeded}" in demand and seeded > 0
    await picker.select_option(label="Design our next tee")
    await page.wait_for_selector('#insights table.weekly caption:has-text("Design our next tee")')
    assert await page.locator('#insights [data-chart="weekly"] .chart canvas').count() == 1
    assert page.errors == []


async def test_the_campaigns_raised_alert_is_listed(browser: Any, demo: Demo) -> None:
    page = await sign_in(browser, demo)
    picker = page.locator("#insights").get_by_label("Campaign", exact=True)
    await picker.select_option(label="Design our next tee")
    await page.wait_for_selector('#insights .alerts p:has-text("No alert raised")')
    await picker.select_option(label="What should we brew next?")
    alert = page.locator('#insights .alerts li[data-kind="campaign.participation_dropped"]')
    text = await alert.text_content() or ""
    assert text.startswith("Participation dropped · week 20"), text
    assert "activeMembersWeekBefore 8" in text and "activeMembers 0" in text, text


async def test_no_axe_violations_with_filters_and_a_merge_preview(browser: Any, demo: Demo) -> None:
    page = await sign_in(browser, demo, bypass_csp=True)  # axe is injected inline (see above)
    row = idea_row(page, MERGE_SOURCE)
    await row.get_by_role("button", name="Merge…").click()
    await row.get_by_role("button", name="Preview merge").click()
    await row.locator("table.merge-counts").wait_for()
    await page.locator('#insights [data-chart="demand"] canvas').wait_for()
    assert await axe_violations(page) == []
