"""The widget on someone else's page: hostile CSS, keyboard only, axe-core, touch, screenshots."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import (
    Demo,
    axe_violations,
    has_focus,
    idea,
    open_demo,
    screenshot,
    settle,
)

pytestmark = pytest.mark.browser

PROPERTIES = [
    "color",
    "background-color",
    "font-family",
    "font-size",
    "font-style",
    "font-weight",
    "letter-spacing",
    "text-transform",
    "line-height",
    "text-align",
    "display",
    "visibility",
    "cursor",
    "box-sizing",
    "padding-top",
    "padding-left",
    "margin-top",
    "margin-left",
    "border-top-width",
    "border-top-style",
    "list-style-type",
    "min-height",
]
INSIDE = [
    ".w",
    "h2",
    ".desc",
    '[data-order="TOP"]',
    '[data-order="NEW"]',
    "input[type=search]",
    ".total",
    ".list",
    ".idea",
    ".idea .up",
    ".idea .net",
    ".idea .open",
    ".idea .status",
    ".idea .meta",
    ".idea input[name=quantity]",
    ".idea .pledge-btn",
    ".submit input[name=title]",
    ".submit textarea",
    ".submit button[type=submit]",
]
STYLES = """([selectors, properties]) => {
  const root = document.querySelector('#brew').shadowRoot;
  return selectors.map(sel => {
    const el = root.querySelector(sel);
    if (!el) return [sel, null];
    const cs = getComputedStyle(el);
    return [sel, properties.map(p => cs.getPropertyValue(p))];
  });
}"""


async def test_hostile_host_css_changes_nothing_inside_the_widget(browser: Any, demo: Demo) -> None:
    calm = await open_demo(browser, demo.base, "?page=3")
    hostile = await open_demo(browser, demo.base, "?page=3", path="/demo/hostile")
    assert await hostile.locator("#host-button").is_visible()  # the hostile CSS is there
    inside_calm = await calm.evaluate(STYLES, [INSIDE, PROPERTIES])
    inside_hostile = await hostile.evaluate(STYLES, [INSIDE, PROPERTIES])
    assert all(values for _, values in inside_calm), inside_calm
    for (selector, a), (_, b) in zip(inside_calm, inside_hostile, strict=True):
        differing = {p: (x, y) for p, x, y in zip(PROPERTIES, a, b, strict=True) if x != y}
        assert not differing, (selector, differing)
    assert await hostile.locator("#brew .idea").count() == 3


async def test_the_widget_changes_nothing_outside_itself(browser: Any, demo: Demo) -> None:
    page = await open_demo(browser, demo.base)
    await page.goto(f"{demo.base}/demo/hostile")
    await page.wait_for_selector('#brew[data-state="ready"] .idea')
    style = """() => { const cs = getComputedStyle(document.querySelector('#host-button'));
        return [cs.color, cs.backgroundColor, cs.display, cs.fontSize, cs.padding, cs.border]; }"""
    with_widget = await page.evaluate(style)
    sheets = await page.evaluate("document.styleSheets.length")
    # The same page with the widget script removed.
    html = await page.content()
    bare = await (await browser.new_context()).new_page()
    await bare.route(f"{demo.base}/widget/**", lambda route: route.abort())
    await bare.goto(f"{demo.base}/demo/hostile")
    await bare.wait_for_selector("#host-button")
    assert await bare.evaluate("customElements.get('cosource-ideas')") is None
    assert await bare.evaluate(style) == with_widget
    assert await bare.evaluate("document.styleSheets.length") == sheets  # nothing global added
    assert "cosource-style" not in html
    # No globals beyond the element itself.
    blank = await (await browser.new_context()).new_page()
    await blank.goto(f"{demo.base}/healthz")
    before = set(await blank.evaluate("Object.keys(window)"))
    await blank.add_script_tag(url=f"{demo.base}/widget.js")
    await blank.wait_for_function("!!customElements.get('cosource-ideas')")
    assert set(await blank.evaluate("Object.keys(window)")) - before == set()


async def test_keyboard_only_reaches_every_action_and_keeps_focus(browser: Any, demo: Demo) -> None:
    page = await open_demo(browser, demo.base, "?customer=cus_1006&page=3")  # Margaret
    brew = page.locator("#brew")
    # Tab from the top of the page into and through the widget.
    seen: list[str] = []
    describe = """() => { const host = document.activeElement;
      if (!host || host.id !== 'brew') return host ? 'outside:' + host.tagName : 'none';
      const el = host.shadowRoot.activeElement;
      return el ? (el.dataset.order ? 'tab:' + el.dataset.order
                   : el.name ? 'field:' + el.name : 'button:' + el.className) : 'host'; }"""
    for _ in range(80):
        await page.keyboard.press("Tab")
        where = await page.evaluate(describe)
        seen.append(where)
        if where.startswith("outside:") and any(s.startswith("field:title") for s in seen):
            break
    for wanted in (
        "tab:TOP",
        "tab:NEW",
        "field:q",
        "button:up",
        "button:down",
        "button:open",
        "field:quantity",
        "button:pledge-btn",
        "button:more",
        "field:title",
        "field:body",
    ):
        assert wanted in seen, (wanted, seen)
    # Focus is visible.
    await brew.locator('[data-order="HOT"]').focus()
    await page.keyboard.press("Shift+Tab")
    await page.keyboard.press("Tab")
    outline = await brew.locator('[data-order="HOT"]').evaluate(
        "el => [getComputedStyle(el).outlineStyle, getComputedStyle(el).outlineWidth]"
    )
    assert outline == ["solid", "3px"], outline
    # Each action by keyboard keeps focus where it was.
    await page.keyboard.press("Enter")
    await settle(page)
    assert await has_focus(brew.locator('[data-order="HOT"]'))
    await brew.locator('[data-order="TOP"]').focus()
    await page.keyboard.press("Enter")
    await settle(page)
    target = idea(page, "Oat-milk cold brew in cans")  # by Ada
    up = target.locator(".up")
    net = target.locator(".net")
    before = int(await net.inner_text())
    was_up = await up.get_attribute("aria-pressed") == "true"
    await up.focus()
    await page.keyboard.press("Enter")
    await settle(page)
    assert int(await net.inner_text()) == before + (-1 if was_up else 1)
    assert await has_focus(up)
    await page.keyboard.press("Space")
    await settle(page)
    assert int(await net.inner_text()) == before
    assert await has_focus(up)
    # Pledge with a quantity, withdraw with confirmation: all by keys.
    qty = target.locator("input[name=quantity]")
    await qty.focus()
    await page.keyboard.press("Control+A")
    await page.keyboard.type("2")
    await page.keyboard.press("Tab")
    assert await has_focus(target.locator(".pledge-btn"))
    await page.keyboard.press("Enter")
    await settle(page)
    assert await target.locator(".pledge").get_attribute("data-pledged") == "2"
    assert await has_focus(target.locator(".pledge-btn"))
    await page.keyboard.press("Tab")
    assert await has_focus(target.locator(".withdraw"))
    await page.keyboard.press("Enter")
    assert await has_focus(target.locator(".confirm-no"))  # the safe choice first
    await page.keyboard.press("Shift+Tab")
    assert await has_focus(target.locator(".confirm-yes"))
    await page.keyboard.press("Enter")
    await settle(page)
    assert await target.locator(".pledge").get_attribute("data-pledged") == "0"
    assert await has_focus(target.locator(".pledge-btn"))
    # Details open by keyboard; a comment by keyboard.
    await target.locator(".open").focus()
    await page.keyboard.press("Enter")
    await settle(page)
    assert await has_focus(target.locator(".open"))
    assert await target.locator(".detail").is_visible()
    await target.locator("textarea[name=comment]").focus()
    await page.keyboard.type("Typed without a mouse.")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await settle(page)
    await target.locator(".comment", has_text="Typed without a mouse.").wait_for()
    # Search by keyboard keeps the caret in the field.
    search = brew.locator("input[type=search]")
    await search.focus()
    await page.keyboard.type("refill")
    await page.keyboard.press("Enter")
    await settle(page)
    assert await has_focus(search)
    assert await brew.locator(".idea").count() == 1


async def test_axe_core_finds_no_violations(browser: Any, demo: Demo) -> None:
    guest = await open_demo(browser, demo.base)
    assert await axe_violations(guest) == []
    member = await open_demo(browser, demo.base, "?customer=cus_1002")
    row = idea(member, "Oat-milk cold brew in cans")
    await row.locator(".open").click()
    await settle(member)
    await member.locator("#brew input[name=title]").press_sequentially("Compostable pods again")
    await member.locator("#brew .similar").wait_for()
    await member.locator("#tees .submit button[type=submit]").click()  # an error notice
    await settle(member, "#tees")
    assert await axe_violations(member) == []
    phone = await open_demo(
        browser, demo.base, "?customer=cus_1002", viewport={"width": 375, "height": 800}
    )
    assert await axe_violations(phone) == []


async def test_tap_targets_are_at_least_44px_on_touch(browser: Any, demo: Demo) -> None:
    page = await open_demo(
        browser,
        demo.base,
        "?customer=cus_1008",
        viewport={"width": 375, "height": 812},
        has_touch=True,
        is_mobile=True,
    )
    assert await page.evaluate("matchMedia('(pointer: coarse)').matches")
    await idea(page, "Refill station for beans").locator(".open").click()
    await settle(page)
    small = await page.evaluate(
        """() => [...document.querySelectorAll('cosource-ideas')].flatMap(host =>
          [...host.shadowRoot.querySelectorAll('button, input, textarea')]
            .map(el => el.type === 'checkbox' ? el.closest('label') : el)
            .filter(el => el.getClientRects().length)
            .map(el => [el.className || el.name || el.tagName, el.getBoundingClientRect()])
            .filter(([, r]) => r.width < 44 || r.height < 44)
            .map(([name, r]) => name + ' ' + Math.round(r.width) + 'x' + Math.round(r.height)))"""
    )
    assert small == []


async def test_screenshots_of_each_state(browser: Any, demo: Demo, tmp_path: Path) -> None:
    """Desktop and 375 px pictures for the README (`make screenshots` writes them to docs/img)."""
    for _ in range(50):  # the seed's points are awarded by the server's own job loop
        if demo.as_member("cus_1004", "{viewer{reputation}}")["viewer"]["reputation"] > 0:
            break
        await asyncio.sleep(0.2)
    comment = "mutation($i:ID!,$b:String!,$p:ID){comment(input:{ideaId:$i, body:$b, parentId:$p}){comment{id}}}"
    oat = demo.idea_id("Oat-milk cold brew in cans")
    first = demo.as_member("cus_1006", comment, {"i": oat, "b": "Cans for the train, yes please."})
    demo.as_member(
        "cus_1007",
        comment,
        {"i": oat, "b": "And a decaf one?", "p": first["comment"]["comment"]["id"]},
    )
    page = await open_demo(
        browser, demo.base, "?customer=cus_1004&page=4", viewport={"width": 1280, "height": 900}
    )
    await screenshot(page, "widget-desktop", tmp_path, full_page=True)
    row = idea(page, "Oat-milk cold brew in cans")
    await row.locator(".open").click()
    await settle(page)
    await screenshot(page.locator("#brew"), "widget-detail", tmp_path)
    await page.locator("#tees input[name=title]").fill("Latte art waves again")
    await page.locator("#tees textarea[name=body]").fill("Waves, but bigger.")
    await page.locator("#tees .submit button[type=submit]").click()
    await settle(page, "#tees")
    await page.locator("#tees .similar").wait_for()
    await screenshot(page.locator("#tees"), "widget-contest-submit", tmp_path)
    phone = await open_demo(
        browser,
        demo.base,
        "?customer=cus_1004&page=3",
        viewport={"width": 375, "height": 812},
        has_touch=True,
        is_mobile=True,
    )
    await screenshot(phone, "widget-mobile", tmp_path, full_page=True)
    korean = await open_demo(
        browser, demo.base, "?lang=ko&page=3", viewport={"width": 375, "height": 812}
    )
    await screenshot(korean, "widget-mobile-ko", tmp_path, full_page=True)
