"""The console's campaigns, webhooks and team sections in real Chromium against `cosource demo`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Demo, axe_violations, screenshot
from tests.browser.test_console import reload, sign_in
from tests.webhooks.receiver import Receiver, Reply

pytestmark = pytest.mark.browser

CAMPAIGN = (
    "query($s: String!) { campaign(slug: $s) { title status mode opensAt closesAt voteBudget hotHalfLifeHours"
    " rewards terms { text version } eligibility { verifiedOnly allowedTiers minLevel }"
    " thresholds { metric value } } }"
)


async def status(page: Any, text: str) -> None:
    await page.wait_for_function(
        "t => document.getElementById('status').textContent.includes(t)", arg=text
    )


async def test_the_owner_creates_a_campaign_through_the_form_and_edits_it(
    browser: Any, demo: Demo
) -> None:
    page = await sign_in(browser, demo)
    section = page.locator("#campaigns")
    await section.get_by_text("New campaign", exact=True).click()
    form = section.locator("details.create form")
    await form.get_by_label("Title").fill("Winter blends")
    await form.get_by_label("Slug").fill("winter-blends")
    await form.get_by_label("Description").fill("Which blend should we roast next?")
    await form.get_by_label("Mode").select_option("CONTEST")
    await form.get_by_label("Opens at").fill("2027-01-10T09:00")
    await form.get_by_label("Closes at").fill("2027-02-10T18:00")
    await form.get_by_label("Verified customers only").check()
    await form.get_by_label("Allowed tiers").fill("gold, silver")
    await form.get_by_label("Minimum level").fill("2")
    await form.get_by_label("Contribution terms").fill("Ideas may be used by the brand.")
    await form.get_by_label("Vote budget").fill("5")
    await form.get_by_label("Rewards").fill("A bag of the winning blend")
    await form.get_by_label("HOT half-life (hours)").fill("12")
    await form.get_by_role("button", name="Add threshold").click()
    await form.get_by_label("Metric of threshold 1").select_option("PLEDGED_QUANTITY")
    await form.get_by_label("Value of threshold 1").fill("50")
    await form.get_by_role("button", name="Create campaign").click()
    await status(page, "Campaign “Winter blends” created as a draft.")
    created = demo.secret(CAMPAIGN, {"s": "winter-blends"})["campaign"]
    assert created["status"] == "DRAFT" and created["mode"] == "CONTEST"
    assert created["opensAt"] < created["closesAt"] and created["voteBudget"] == 5
    assert created["hotHalfLifeHours"] == 12.0
    assert created["eligibility"] == {
        "verifiedOnly": True,
        "allowedTiers": ["gold", "silver"],
        "minLevel": 2,
    }
    assert created["terms"] == {"text": "Ideas may be used by the brand.", "version": 1}
    assert created["thresholds"] == [{"metric": "PLEDGED_QUANTITY", "value": 50.0}]

    row = section.locator("article", has=page.get_by_role("heading", name="Winter blends"))
    await row.get_by_text("Edit “Winter blends”").click()
    edit = row.locator("form")
    # A closing time before the opening is refused, and said next to the field.
    await edit.get_by_label("Closes at").fill("2027-01-01T09:00")
    await edit.get_by_role("button", name="Save changes").click()
    closes = edit.get_by_label("Closes at")
    await page.wait_for_function(
        "el => el.getAttribute('aria-invalid') === 'true'", arg=await closes.element_handle()
    )
    error = edit.locator('[data-field="closesAt"] .field-error')
    assert "closesAt must be after opensAt" in (await error.text_content() or "")
    assert await closes.evaluate("el => el === document.activeElement")
    await closes.fill("2027-03-01T18:00")
    await edit.get_by_label("Contribution terms").fill("Ideas may be used by the brand. Be kind.")
    await edit.get_by_label("Vote budget").fill("")
    await edit.get_by_label("HOT half-life (hours)").fill("48")
    await edit.get_by_role("button", name="Save changes").click()
    await status(page, "Terms are at version 2.")
    edited = demo.secret(CAMPAIGN, {"s": "winter-blends"})["campaign"]
    assert edited["terms"]["version"] == 2 and edited["voteBudget"] is None
    assert edited["hotHalfLifeHours"] == 48.0
    assert edited["closesAt"].startswith("2027-03-01") and edited["rewards"] == created["rewards"]

    await row.get_by_role("button", name="Open").click()
    await status(page, "Campaign open.")
    assert demo.secret(CAMPAIGN, {"s": "winter-blends"})["campaign"]["status"] == "OPEN"
    await section.get_by_text("New campaign", exact=True).click()
    await form.get_by_label("Title").fill("Half typed")
    await row.get_by_role("button", name="Close").click()  # the insights chart stays on the demo's
    await status(page, "Campaign closed.")
    await row.get_by_role("button", name="Open").wait_for()  # the list re-rendered...
    assert await form.get_by_label("Title").input_value() == "Half typed"  # ...the form stayed
    assert demo.secret(CAMPAIGN, {"s": "winter-blends"})["campaign"]["status"] == "CLOSED"
    assert page.errors == []


async def _send_test(demo: Demo, endpoint: str) -> None:
    sent = demo.secret(
        "mutation($e: ID!) { sendTestWebhook(input: {id: $e}) { userErrors { code } } }",
        {"e": endpoint},
    )["sendTestWebhook"]
    assert sent["userErrors"] == [], sent


async def test_an_endpoint_secret_is_shown_once_and_rotation_shows_the_new_one(
    browser: Any, demo: Demo
) -> None:
    with Receiver() as receiver:
        page = await sign_in(browser, demo)
        hooks = page.locator("#webhooks")
        await hooks.get_by_text("New endpoint", exact=True).click()
        form = hooks.locator("details.create form")
        await form.get_by_label("Receiver URL").fill(receiver.url())
        await form.get_by_label("Description").fill("Order system")
        await form.get_by_label("webhook.test").check()
        await form.get_by_role("button", name="Create endpoint").click()
        box = hooks.locator(".secret-box")
        await box.wait_for()
        secret = await box.locator("code").text_content() or ""
        assert re.fullmatch(r"whsec_[A-Za-z0-9+/=]+", secret), secret
        assert "shown only this once" in (await box.text_content() or "")
        endpoint = await box.get_attribute("data-endpoint")
        assert endpoint
        # The shown secret is the one that signs.
        receiver.set_secrets(secret)
        await _send_test(demo, endpoint)
        assert (await receiver.wait_for_async(1, timeout=20))[0].verified

        await reload(page)
        assert await hooks.locator(".secret-box").count() == 0
        assert secret not in await page.content()

        row = hooks.locator(f'article[data-endpoint="{endpoint}"]')
        await row.get_by_role("button", name="Rotate secret").click()
        await box.wait_for()
        rotated = await box.locator("code").text_content() or ""
        assert rotated.startswith("whsec_") and rotated != secret
        assert "previous secret signs until" in (await row.text_content() or "")
        receiver.set_secrets(rotated)
        await _send_test(demo, endpoint)
        assert (await receiver.wait_for_async(2, timeout=20))[1].verified
        await box.get_by_role("button", name="I stored it").click()
        await hooks.locator(".secret-box").wait_for(state="detached")
        assert page.errors == []


async def test_the_delivery_log_shows_attempts_and_recover_resends_what_failed(
    browser: Any, demo: Demo
) -> None:
    with Receiver() as receiver:
        # Failing until told otherwise, so the retry 5 s later cannot succeed before the test.
        receiver.program(then=Reply(503, b"maintenance until noon"))
        created = demo.secret(
            "mutation($u: String!) { createWebhookEndpoint(input: {url: $u,"
            ' eventTypes: ["webhook.test"]}) { endpoint { id } secret } }',
            {"u": receiver.url()},
        )["createWebhookEndpoint"]
        receiver.set_secrets(created["secret"])
        endpoint = created["endpoint"]["id"]
        await _send_test(demo, endpoint)
        await receiver.wait_for_async(1, timeout=20)
        page = await sign_in(browser, demo)
        row = page.locator(f'#webhooks article[data-endpoint="{endpoint}"]')
        await row.get_by_role("button", name="Disable").click()  # fails what is pending
        await status(page, "Endpoint disabled.")
        await page.locator("#webhooks").get_by_label("Show deliveries").select_option("FAILED")
        await page.wait_for_selector('#console[data-state="ready"]')
        delivery = page.locator("#webhooks article[data-delivery]", has_text=receiver.url())
        await delivery.first.wait_for()
        await delivery.first.get_by_text("Attempts and responses (").click()
        attempt = await delivery.first.locator("li").first.text_content() or ""
        assert "#1" in attempt and "HTTP 503" in attempt and "maintenance until noon" in attempt
        receiver.program(then=200)
        await row.get_by_role("button", name="Enable").click()
        await status(page, "Endpoint enabled.")
        await row.get_by_label("Resend failed deliveries created since").fill("2020-01-01T00:00")
        before = len(receiver.requests)
        await row.get_by_role("button", name="Recover").click()
        await status(page, "1 deliveries queued again.")
        again = await receiver.wait_for_async(before + 1, timeout=20)
        assert (
            again[-1].verified and again[-1].headers["webhook-id"] == again[0].headers["webhook-id"]
        )
        await row.get_by_role("button", name="Delete", exact=True).click()
        await row.get_by_role("button", name="Yes, delete").click()
        await status(page, "Endpoint deleted.")
        await page.locator(f'#webhooks article[data-endpoint="{endpoint}"]').wait_for(
            state="detached"
        )
        assert page.errors == []


async def test_an_invited_moderator_joins_and_gets_no_owner_controls(
    browser: Any, demo: Demo
) -> None:
    page = await sign_in(browser, demo)
    team = page.locator("#team")
    await team.get_by_text("Invite someone", exact=True).click()
    await team.get_by_label("Email").fill("barista@demo.example")
    await team.get_by_label("Role", exact=True).select_option("MODERATOR")
    await team.get_by_role("button", name="Invite").click()
    link = team.locator(".invite-link")
    await link.wait_for()
    url = await link.text_content() or ""
    path = url[url.index("/console/invite/") :]
    assert "barista@demo.example" in (await team.locator(".row[data-invite]").text_content() or "")

    joiner = await (await browser.new_context()).new_page()
    await joiner.goto(f"{demo.base}{path}")
    await joiner.get_by_label("New password").fill("a fresh long password")
    await joiner.get_by_label("Repeat the password").fill("a fresh long password")
    await joiner.get_by_role("button", name="Set password").click()
    await joiner.wait_for_selector('.note:has-text("Your password is set")')
    assert await joiner.get_by_label("Email").input_value() == "barista@demo.example"
    await joiner.get_by_label("Password").fill("a fresh long password")
    await joiner.get_by_role("button", name="Sign in").click()
    await joiner.wait_for_selector('#console[data-state="ready"]')
    assert await joiner.locator("#console").get_attribute("data-role") == "MODERATOR"
    assert await joiner.locator("#campaigns article").count() > 0  # read-only lists
    for control in ("New campaign", "New endpoint", "Invite someone"):
        assert await joiner.get_by_text(control, exact=True).count() == 0, control
    for name in ("Open", "Close", "Rotate secret", "Retry", "Delete"):
        assert (
            await joiner.locator("#campaigns, #webhooks").get_by_role("button", name=name).count()
            == 0
        )
    assert "Owners manage the team." in (await joiner.locator("#team").text_content() or "")
    await joiner.goto(f"{demo.base}{path}")  # the link was for one use
    assert "Invitation not valid" in await joiner.content()

    await reload(page)
    member = team.locator("article", has=page.get_by_role("heading", name="barista@demo.example"))
    await member.get_by_label("Role of barista@demo.example").select_option("ANALYST")
    await member.get_by_role("button", name="Change role").click()
    await status(page, "barista@demo.example is now analyst.")
    await joiner.goto(f"{demo.base}/console")
    await joiner.wait_for_selector('#console[data-state="ready"]')
    assert await joiner.locator("#console").get_attribute("data-role") == "ANALYST"
    await member.get_by_role("button", name="Remove", exact=True).click()
    await member.get_by_role("button", name="Yes, remove").click()
    await status(page, "barista@demo.example removed.")
    await joiner.reload()
    assert await joiner.locator("#console").count() == 0  # signed out at once
    assert await joiner.get_by_role("button", name="Sign in").count() == 1
    assert page.errors == []


async def test_no_axe_violations_with_the_forms_open(browser: Any, demo: Demo) -> None:
    page = await sign_in(
        browser, demo, bypass_csp=True
    )  # axe is injected inline (see test_console)
    for section, summary in (
        ("#campaigns", "New campaign"),
        ("#webhooks", "New endpoint"),
        ("#team", "Invite someone"),
    ):
        await page.locator(section).get_by_text(summary, exact=True).click()
    await page.locator("#campaigns details.edit summary").first.click()
    await (
        page.locator("#campaigns details.create")
        .get_by_role("button", name="Add threshold")
        .click()
    )
    await (
        page.locator("#campaigns details.create")
        .get_by_role("button", name="Create campaign")
        .click()
    )
    await page.wait_for_selector("#campaigns details.create .field-error:not([hidden])")
    assert await axe_violations(page) == []
    url = demo.secret(
        'mutation { inviteConsoleUser(input: {email: "axe@demo.example", role: ANALYST})'
        " { inviteUrl } }"
    )["inviteConsoleUser"]["inviteUrl"]
    invite = await (await browser.new_context(bypass_csp=True)).new_page()
    await invite.goto(demo.base + url[url.index("/console/invite/") :])
    await invite.get_by_label("New password").wait_for()
    assert await axe_violations(invite) == []
    await invite.goto(f"{demo.base}/console/invite/not-a-real-token")
    assert await axe_violations(invite) == []


# The README shows the campaign form at desktop width and the webhooks at tablet width.
@pytest.mark.parametrize(
    ("name", "width", "shown"),
    [
        ("console-manage-desktop-campaigns", 1280, "#campaigns"),
        ("console-manage-tablet-webhooks", 768, "#webhooks"),
    ],
)
async def test_manage_screenshots(
    browser: Any, demo: Demo, tmp_path: Path, name: str, width: int, shown: str
) -> None:
    with Receiver() as receiver:
        receiver.program(Reply(500, b'{"error": "order system busy"}'), then=Reply(200, b"{}"))
        created = demo.secret(
            "mutation($u: String!) { createWebhookEndpoint(input: {url: $u, description:"
            ' "Order system", eventTypes: ["webhook.test"]}) { endpoint { id } secret } }',
            {"u": receiver.url()},
        )["createWebhookEndpoint"]
        endpoint = created["endpoint"]["id"]
        await _send_test(demo, endpoint)
        await receiver.wait_for_async(1, timeout=20)
        page = await sign_in(browser, demo, viewport={"width": width, "height": 900})
        await page.locator("#campaigns").get_by_text("New campaign", exact=True).click()
        await page.locator("#webhooks").get_by_text("New endpoint", exact=True).click()
        delivery = page.locator("#webhooks article[data-delivery]", has_text=receiver.url())
        await delivery.first.get_by_text("Attempts and responses (").click()
        await screenshot(page.locator(shown), name, tmp_path)
        overflow = await page.evaluate("document.documentElement.scrollWidth - innerWidth")
        assert overflow <= 0
        demo.secret(
            "mutation($e: ID!) { deleteWebhookEndpoint(input: {id: $e}) { userErrors { code } } }",
            {"e": endpoint},
        )
