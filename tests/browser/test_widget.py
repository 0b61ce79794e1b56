"""The storefront widget as shoppers use it: guests read, members take part (real Chromium)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import Demo, has_focus, idea, open_demo, settle

pytestmark = pytest.mark.browser


async def _titles(page: Any, widget: str = "#brew") -> list[str]:
    return [t.strip() for t in await page.locator(f"{widget} .idea .open").all_inner_texts()]


async def test_guest_reads_are_persisted_gets_served_from_the_cache(
    browser: Any, demo: Demo
) -> None:
    await open_demo(browser, demo.base)  # registers the persisted queries
    page = await (await browser.new_context()).new_page()
    reads: list[tuple[str, int, str | None]] = []
    page.on(
        "response",
        lambda r: (
            reads.append((r.request.method, r.status, r.headers.get("etag")))
            if "/graphql" in r.url
            else None
        ),
    )
    await page.goto(f"{demo.base}/demo")
    await page.wait_for_selector('#brew[data-state="ready"] .idea')
    await page.wait_for_selector('#tees[data-state="ready"] .idea')
    gets = [r for r in reads if r[0] == "GET"]
    # Campaign and first page, for each of the two widgets.
    assert len(gets) == 4 and all(status == 200 and etag for _, status, etag in gets), reads
    assert not [r for r in reads if r[0] == "POST"], reads  # impressions come later (batched)


async def test_ideas_shown_on_screen_are_reported_as_impressions(browser: Any, demo: Demo) -> None:
    page = await (await browser.new_context(viewport={"width": 1280, "height": 2400})).new_page()
    reports: list[dict[str, Any]] = []

    async def on_response(response: Any) -> None:
        body = response.request.post_data or ""
        if "recordImpressions" in body:
            reports.append({"sent": response.request.post_data_json, "got": await response.json()})

    page.on("response", on_response)
    await page.goto(f"{demo.base}/demo")
    await page.wait_for_selector('#brew[data-state="ready"] .idea')
    for _ in range(50):
        if len(reports) >= 2:
            break
        await page.wait_for_timeout(200)
    ids = {i for r in reports for i in r["sent"]["variables"]["ids"]}
    shown = set(
        await page.locator("#brew .idea, #tees .idea").evaluate_all(
            "rows => rows.map(r => r.dataset.id)"
        )
    )
    assert ids == shown, (ids, shown)
    assert all(
        r["got"]["data"]["recordImpressions"]["counted"] == len(r["sent"]["variables"]["ids"])
        for r in reports
    )


async def test_guest_reads_tabs_search_load_more_and_is_asked_to_sign_in(
    browser: Any, demo: Demo
) -> None:
    page = await open_demo(browser, demo.base, "?page=3")
    brew = page.locator("#brew")
    assert await brew.locator("h2").inner_text() == "What should we brew next?"
    assert await brew.locator(".idea").count() == 3
    await brew.locator(".more").click()
    await settle(page)
    assert await brew.locator(".idea").count() == 6
    assert await brew.locator(".more").is_hidden()
    # Tabs follow the API's orders; PLEDGES only in contests.
    assert await brew.locator('[data-order="PLEDGES"]').is_hidden()
    assert await page.locator('#tees [data-order="PLEDGES"]').is_visible()
    expected = demo.secret(
        'query{campaign(slug: "brew-next"){ideas(orderBy: NEW, first: 1){edges{node{title}}}}}'
    )
    await brew.locator('[data-order="NEW"]').click()
    await settle(page)
    assert await brew.locator('[data-order="NEW"]').get_attribute("aria-pressed") == "true"
    assert await brew.locator('[data-order="TOP"]').get_attribute("aria-pressed") == "false"
    newest = expected["campaign"]["ideas"]["edges"][0]["node"]["title"]
    assert (await _titles(page))[0] == newest
    await brew.locator("input[type=search]").fill("compostable")
    await brew.locator("input[type=search]").press("Enter")
    await settle(page)
    assert await _titles(page) == ["Compostable pods"]
    assert await brew.locator(".total").inner_text() == "1 idea"
    # Sign-in prompt for guests; acting asks to sign in, in words (not a code).
    assert await brew.locator(".signin").is_visible()
    await idea(page, "Compostable pods").locator(".up").click()
    await settle(page)
    assert await brew.locator(".notice").inner_text() == "Sign in to take part."
    assert page.errors == []


async def test_member_votes_changes_and_retracts_with_state_not_by_colour_alone(
    browser: Any, demo: Demo
) -> None:
    page = await open_demo(browser, demo.base, "?customer=cus_1003")  # Linus
    assert await page.locator("#brew .signin").is_hidden()
    assert await page.locator("#brew .me .name").inner_text() == "Linus"
    row = idea(page, "Decaf that tastes like coffee")  # by Ken
    up, down, net = row.locator(".up"), row.locator(".down"), row.locator(".net")
    before = int(await net.inner_text())
    was = (
        "UP"
        if await up.get_attribute("aria-pressed") == "true"
        else ("DOWN" if await down.get_attribute("aria-pressed") == "true" else "NONE")
    )
    base = before - {"UP": 1, "DOWN": -1, "NONE": 0}[was]
    if was == "UP":
        await up.click()  # retract first so the sequence below starts from no vote
        await settle(page)
    elif was == "DOWN":
        await down.click()
        await settle(page)
    assert int(await net.inner_text()) == base
    await up.click()
    await settle(page)
    assert int(await net.inner_text()) == base + 1
    assert await up.get_attribute("aria-pressed") == "true"
    assert "Upvoted" in await up.inner_text()  # words and a check mark, not just a colour
    await down.click()  # change
    await settle(page)
    assert int(await net.inner_text()) == base - 1
    assert await down.get_attribute("aria-pressed") == "true"
    assert await up.get_attribute("aria-pressed") == "false"
    await down.click()  # retract
    await settle(page)
    assert int(await net.inner_text()) == base
    assert await down.get_attribute("aria-pressed") == "false"
    assert await page.locator("#brew .notice").inner_text() == "Vote removed."
    # The server agrees.
    data = demo.as_member(
        "cus_1003",
        "query($i:ID!){idea(id:$i){viewerVote counts{netVotes}}}",
        {"i": demo.idea_id("Decaf that tastes like coffee")},
    )
    assert data["idea"] == {"viewerVote": "NONE", "counts": {"netVotes": base}}


async def test_member_scores_and_pledges_a_quantity_and_confirms_before_withdrawing(
    browser: Any, demo: Demo
) -> None:
    page = await open_demo(browser, demo.base, "?customer=cus_1001")  # Ada
    tees = page.locator("#tees")
    assert "licence to print" in await tees.locator(".contest").inner_text()
    assert "10 tees" in await tees.locator(".contest").inner_text()
    row = idea(page, "Roaster blueprint", "#tees")
    await row.locator('[data-score="4"]').click()
    await settle(page, "#tees")
    assert await row.locator('[data-score="4"]').get_attribute("aria-pressed") == "true"
    assert [await row.locator(f'[data-score="{n}"]').inner_text() for n in range(1, 6)] == list(
        "★★★★☆"
    )
    await row.locator("input[name=quantity]").fill("3")
    await row.locator(".pledge-btn").click()
    await settle(page, "#tees")
    assert await row.locator(".pledge").get_attribute("data-pledged") == "3"
    await row.locator(".withdraw").click()
    assert await row.locator(".confirm").is_visible()
    assert await row.locator(".pledge").get_attribute("data-pledged") == "3"  # not yet
    await row.locator(".confirm-no").click()
    assert await row.locator(".confirm").is_hidden()
    await row.locator(".withdraw").click()
    await row.locator(".confirm-yes").click()
    await settle(page, "#tees")
    assert await row.locator(".pledge").get_attribute("data-pledged") == "0"
    data = demo.as_member(
        "cus_1001",
        "query($i:ID!){idea(id:$i){viewerScore viewerPledge}}",
        {"i": demo.idea_id("Roaster blueprint")},
    )
    assert data["idea"] == {"viewerScore": 4, "viewerPledge": 0}


async def test_idea_detail_shows_official_responses_and_threaded_comments(
    browser: Any, demo: Demo
) -> None:
    page = await open_demo(browser, demo.base, "?customer=cus_1002")  # Grace
    row = idea(page, "Oat-milk cold brew in cans")
    await row.locator(".open").click()
    await settle(page)
    assert await row.locator(".open").get_attribute("aria-expanded") == "true"
    assert "Our roasters are testing three recipes." in await row.locator(".resp").inner_text()
    await row.locator("textarea[name=comment]").fill("Please make it less sweet.")
    await row.locator(".comment-form button[type=submit]").click()
    await settle(page)
    first = row.locator(".comment", has_text="Please make it less sweet.")
    await first.wait_for()
    await first.locator(".reply").click()
    assert await has_focus(row.locator("textarea[name=comment]"))
    await row.locator("textarea[name=comment]").fill("Agreed, half the sugar.")
    await row.locator(".comment-form button[type=submit]").click()
    await settle(page)
    reply = row.locator(".comment", has_text="Agreed, half the sugar.")
    await reply.wait_for()
    indent = await reply.evaluate("el => parseFloat(getComputedStyle(el).marginInlineStart)")
    assert indent > await first.evaluate("el => parseFloat(getComputedStyle(el).marginInlineStart)")
    # A reply sits right after its parent, and the server threads it the same way.
    assert await first.evaluate("el => el.nextElementSibling.textContent") == await reply.evaluate(
        "el => el.textContent"
    )
    data = demo.secret(
        "query($i:ID!){idea(id:$i){comments(first:50){edges{node{body parentId depth}}}}}",
        {"i": demo.idea_id("Oat-milk cold brew in cans")},
    )
    bodies = {e["node"]["body"]: e["node"] for e in data["idea"]["comments"]["edges"]}
    assert bodies["Agreed, half the sugar."]["depth"] == 1
    assert bodies["Agreed, half the sugar."]["parentId"] is not None


async def test_submit_keeps_text_and_focus_after_a_failed_attempt_and_markup_is_not_run(
    browser: Any, demo: Demo
) -> None:
    page = await open_demo(browser, demo.base, "?customer=cus_1005")  # Ken
    tees = page.locator("#tees")
    title = "<img src=x onerror=window.__pwned=1> zebra tee"
    await tees.locator("input[name=title]").fill(title)
    await tees.locator("textarea[name=body]").fill("<script>window.__pwned=2</script> stripes")
    submit = tees.locator(".submit button[type=submit]")
    await submit.focus()
    await page.keyboard.press("Enter")  # terms not accepted
    await settle(page, "#tees")
    assert "contribution terms" in await tees.locator(".notice").inner_text()
    assert await tees.locator("input[name=title]").input_value() == title
    assert await has_focus(submit)
    assert await tees.locator("input[name=terms]").get_attribute("aria-invalid") == "true"
    # A vote elsewhere while the text is there does not wipe it either.
    await idea(page, "Latte art wave", "#tees").locator('[data-score="5"]').click()
    await settle(page, "#tees")
    assert await tees.locator("input[name=title]").input_value() == title
    await tees.locator("input[name=terms]").check()
    await submit.click()
    await settle(page, "#tees")
    await page.wait_for_selector("#tees .open >> text=zebra tee")
    assert await tees.locator("input[name=title]").input_value() == ""
    assert await page.evaluate("window.__pwned") is None
    assert title in await tees.locator(".list").inner_text()
    assert await tees.locator(".notice").inner_text() == "Thanks! Your idea was submitted."
    # Self-votes are refused in the catalogue's words.
    await page.locator("#brew input[name=title]").fill("Ken's own thing")
    await page.locator("#brew textarea[name=body]").fill("mine")
    await page.locator("#brew .submit button[type=submit]").click()
    await settle(page)
    await idea(page, "Ken's own thing").locator(".up").click()
    await settle(page)
    assert await page.locator("#brew .notice").inner_text() == "You cannot vote on your own idea."


async def test_typing_a_new_idea_suggests_similar_ones_to_vote_for(
    browser: Any, demo: Demo
) -> None:
    page = await open_demo(browser, demo.base, "?customer=cus_1007")  # Dennis
    brew = page.locator("#brew")
    await brew.locator("input[name=title]").press_sequentially("Compostable coffee pods", delay=20)
    suggestion = brew.locator(".similar button", has_text="Compostable pods")
    await suggestion.wait_for()
    assert "Is it one of these?" in await brew.locator(".similar").inner_text()
    assert await brew.locator("input[name=title]").input_value() == "Compostable coffee pods"
    row = idea(page, "Compostable pods")
    before = int(await row.locator(".net").inner_text())
    was_up = await row.locator(".up").get_attribute("aria-pressed") == "true"
    await suggestion.click()
    await settle(page)
    assert await row.locator(".up").get_attribute("aria-pressed") == "true"
    assert int(await row.locator(".net").inner_text()) == (before if was_up else before + 1)


async def test_korean_catalogue_and_intl_dates(browser: Any, demo: Demo) -> None:
    page = await open_demo(browser, demo.base, "?lang=ko")
    brew = page.locator("#brew")
    await brew.locator(".total").wait_for()
    await page.wait_for_function(
        "() => document.querySelector('#brew').shadowRoot.querySelector('[data-order=TOP]')"
        ".textContent === '인기'"
    )
    assert await brew.locator(".signin").inner_text() == "참여하려면 로그인하세요."
    meta = await brew.locator(".idea .meta").first.inner_text()
    assert "작성자" in meta and re.search(r"20\d\d\. \d{1,2}\. \d{1,2}\.", meta), meta  # Intl, ko
    assert await brew.locator(".w").get_attribute("lang") == "ko"
    # Switching back re-labels in place.
    await page.select_option("#language", "en")
    assert await brew.locator('[data-order="TOP"]').inner_text() == "Top"


async def test_plain_http_storefront_without_crypto_subtle(browser: Any, demo: Demo) -> None:
    """A non-localhost http:// origin is not a secure context: crypto.subtle is undefined there."""
    from playwright.async_api import async_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

    port = demo.base.rsplit(":", 1)[1]
    async with async_playwright() as p:
        chromium = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP shop.example 127.0.0.1"],
        )
        try:
            page = await chromium.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"http://shop.example:{port}/demo")
            await page.wait_for_selector('#brew[data-state="ready"] .idea')
            assert await page.evaluate("isSecureContext") is False
            assert await page.evaluate("typeof crypto.subtle") == "undefined"
            assert await page.locator("#brew .idea").count() >= 6
            assert errors == []
        finally:
            await chromium.close()


async def test_signing_in_through_the_picker_replaces_the_prompt(browser: Any, demo: Demo) -> None:
    page = await open_demo(browser, demo.base)
    assert await page.locator("#brew .signin").is_visible()
    await page.select_option("#customer", "cus_1008")  # Frances
    await page.wait_for_selector("#brew .me .name >> text=Frances")
    await settle(page)
    assert await page.locator("#brew .signin").is_hidden()
    assert await page.locator("#tees .signin").is_hidden()


async def test_a_closed_campaign_disables_actions_and_says_so_in_words(
    browser: Any, demo: Demo
) -> None:
    created = demo.secret(
        """mutation{createCampaign(input:{title:"Last season", slug:"last-season"}){
             campaign{id} userErrors{code}}}"""
    )["createCampaign"]
    campaign = created["campaign"]["id"]
    demo.secret(
        "mutation($c:ID!){setCampaignStatus(input:{id:$c, status: OPEN}){userErrors{code}}}",
        {"c": campaign},
    )
    demo.as_member(
        "cus_1001",
        """mutation($c:ID!){submitIdea(input:{campaignId:$c, title:"Winter blend", body:"Spiced."}){
             userErrors{code}}}""",
        {"c": campaign},
    )
    demo.secret(
        "mutation($c:ID!){setCampaignStatus(input:{id:$c, status: CLOSED}){userErrors{code}}}",
        {"c": campaign},
    )
    page = await open_demo(browser, demo.base, "?customer=cus_1002")
    await page.evaluate(
        """(key) => { const el = document.createElement('cosource-ideas');
             el.id = 'old'; el.setAttribute('campaign', 'last-season'); el.setAttribute('key', key);
             document.querySelector('main').append(el); }""",
        demo.publishable_key,
    )
    await page.wait_for_selector('#old[data-state="ready"] .idea')
    old = page.locator("#old")
    assert await old.locator(".closed").inner_text() == "This campaign is closed."
    assert await old.locator(".idea .up").is_disabled()
    assert await old.locator(".idea .pledge-btn").is_disabled()
    assert await old.locator(".submit").is_hidden()
    text = await old.locator(".w").inner_text()
    assert "last-season" not in text


async def test_hidden_contest_scores_say_they_are_hidden_not_that_there_are_none(
    browser: Any, demo: Demo
) -> None:
    gid = demo.idea_id("Roaster blueprint")
    counts = demo.secret("query($i:ID!){idea(id:$i){counts{scoreCount averageScore}}}", {"i": gid})
    scored = counts["idea"]["counts"]["scoreCount"]
    assert scored > 0 and counts["idea"]["counts"]["averageScore"] is not None  # the brand's view
    guest = demo.gql(
        "query($i:ID!){idea(id:$i){counts{scoreCount averageScore}}}",
        {"i": gid},
        **{"x-cosource-key": demo.publishable_key},
    )
    assert guest["idea"]["counts"] == {"scoreCount": scored, "averageScore": None}  # hidden
    page = await open_demo(browser, demo.base)  # a guest, while the contest is open
    row = idea(page, "Roaster blueprint", "#tees")
    assert await row.locator(".avg").inner_text() == (
        f"{scored} scores · the average shows when the campaign closes"
    )
    korean = await open_demo(browser, demo.base, "?lang=ko")
    text = await idea(korean, "Roaster blueprint", "#tees").locator(".avg").inner_text()
    assert text == f"{scored}명 평가 · 평균 점수는 캠페인이 끝나면 공개됩니다"
    assert not page.errors and not korean.errors
