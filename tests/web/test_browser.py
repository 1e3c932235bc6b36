"""The dashboard in real headless Chromium (Debian's package, driven by Playwright): log in, check the previews,
publish a post to the fake Telegram and watch its state change; duplicate the reference event in the editor and
see the previews follow the form before saving, then save it; screenshots under var/test-artifacts."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from bot.delivery import render_post
from bot.domain import Event, EventOrigin, EventStatus, PostKind, PostState, pick
from bot.platforms import visible_text
from tests.fakes.telegram import FakeTelegram
from tests.web.browser import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    DESKTOP,
    PHONE,
    Served,
    chromium,
    context,
    keep,
    launch,
    log_in,
    overflow,
    serious,
    shoot,
    watch,
)
from tests.web.support import EVENT_ID, PASSWORD, Site

pytestmark = pytest.mark.slow  # Chromium


def _names(event: Event, lang: str) -> list[str]:
    return [pick(person.name, lang, event.lang) for person in event.speakers]


def test_dashboard_in_chromium(served: Served, fake_telegram: FakeTelegram, tmp_path: Path) -> None:
    site = served.site
    event = site.store.event(EVENT_ID)
    assert event is not None
    browser_path = chromium()
    checked: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(browser_path), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)

            # Log in: the dashboard sends an anonymous visitor to the login form first.
            page.goto(f"{served.url}/admin")
            expect(page).to_have_url(f"{served.url}/admin/login?next=/admin")
            page.fill("#password", PASSWORD)
            page.get_by_role("button", name="Log in").click()
            expect(page).to_have_url(f"{served.url}/admin")
            checked.append("logged in with the password; an anonymous visit was sent to the login form")

            # Open the reference event.
            page.get_by_role("link", name="Valdai Club to Discuss Russia-North Korea Treaty").click()
            expect(page).to_have_url(f"{served.url}/admin/events/{EVENT_ID}")
            expect(page.locator("#timeline tbody tr")).to_have_count(21)
            checked.append("opened the reference event: its timeline has 21 planned posts")

            _check_previews(page, site, event, checked)

            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
            checked.append("took a full-page screenshot of the event's dashboard page")

            _publish_now(page, site, event, fake_telegram, checked)
            after = tmp_path / "dashboard-published.png"
            page.evaluate("window.scrollTo(0, 0)")  # the message at the top and the row that changed
            page.screenshot(path=str(after))
            assert errors == [], errors  # no script error, no resource the CSP refused
            checked.append("no script errors and no blocked resources in the browser console")
        finally:
            browser.close()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for picture in (shot, after):
        assert picture.stat().st_size > 10_000
        shutil.copy(picture, ARTIFACTS / picture.name)
    report = ARTIFACTS / "dashboard.txt"
    report.write_text("What the browser test checked (Chromium at /usr/bin/chromium):\n"
                      + "".join(f"- {line}\n" for line in checked), encoding="utf-8")
    print(f"\nscreenshots: {ARTIFACTS / shot.name} and {ARTIFACTS / after.name} (also in {tmp_path})")
    print(report.read_text(encoding="utf-8"))


def _check_previews(page: Page, site: Site, event: Event, checked: list[str]) -> None:
    """Every platform's preview shows the speakers; every platform given a live post shows the stream links."""
    live_platforms = {p.value for step in site.config.campaign.steps if step.kind is PostKind.LIVE
                      for p in site.config.campaign.platforms_of(step)}
    for platform in ("telegram", "vk", "x", "dzen"):
        cards = page.locator(f'article.preview[data-platform="{platform}"][data-step="announcement"]')
        assert cards.count() >= 1, platform
        for index in range(cards.count()):
            card = cards.nth(index)
            lang = card.get_attribute("data-lang") or "en"
            expect(card).to_be_visible()
            text = card.inner_text()
            missing = [name for name in _names(event, lang) if name not in text]
            assert not missing, (platform, lang, missing)
        live = page.locator(f'article.preview[data-platform="{platform}"][data-step="live"]')
        if platform not in live_platforms:
            assert live.count() == 0
            checked.append(f"{platform}: the announcement preview shows all {len(event.speakers)} speakers; "
                           f"no stream link, as the campaign sends {platform} no live post")
            continue
        assert live.count() >= 1, platform
        for index in range(live.count()):
            card = live.nth(index)
            for url in (event.live[platform], event.live["website"]):
                expect(card.locator(f'a[href="{url}"]').first).to_be_visible()
        checked.append(f"{platform}: the announcement preview shows all {len(event.speakers)} speakers and the "
                       f"live preview links the stream ({event.live[platform]} and {event.live['website']})")
    split = page.locator('article.preview[data-platform="x"][data-step="announcement"] .badge.split')
    expect(split).to_have_text("split into 2 parts to fit")
    checked.append("the X announcement is marked 'split into 2 parts to fit'; lengths shown against each limit")


def _publish_now(page: Page, site: Site, event: Event, fake: FakeTelegram, checked: list[str]) -> None:
    post_id = site.post_id("announcement", "telegram")
    row = page.locator(f"#post-{post_id}")
    expect(row).to_have_attribute("data-state", "planned")
    shown = page.locator('article.preview[data-platform="telegram"][data-target="telegram"]'
                         '[data-step="announcement"] .tg-text').first.inner_text()
    row.get_by_role("button", name="Publish now").click()
    row = page.locator(f"#post-{post_id}")
    expect(row).to_have_attribute("data-state", "sent")
    assert len(fake.messages) == 1
    sent = fake.messages[0]
    link = f"https://t.me/valdaiclub/{sent['message_id']}"
    expect(row.locator("a.post-link")).to_have_attribute("href", link)
    expect(page.locator(".flash.ok")).to_contain_text(f"announcement on telegram: sent 2024-11-25 09:00 UTC → {link}")
    assert site.state(post_id) == "sent"
    expected = render_post(site.config, site.publisher.renderer, event, PostKind.ANNOUNCEMENT, "telegram")
    assert sent["text"] == expected.parts[0].text
    # What the organiser read in the preview is what a reader of the channel sees.
    assert " ".join(shown.split()) == " ".join(visible_text(sent["text"]).split())
    checked.append(f"pressed 'Publish now' on post #{post_id} (announcement → telegram): the fake Bot API got "
                   f"one message identical to the preview, the row turned 'sent' with the link {link}")


# -- the editor, readability and phones ------------------------------------------------------------------


NEW_ID = "spring-forum"


def test_duplicate_in_the_editor_previews_before_saving_and_saves(served: Served, tmp_path: Path) -> None:
    site, url = served.site, served.url
    checked: list[str] = []
    shots: list[Path] = []
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = context(browser, DESKTOP).new_page()
            errors = watch(page)
            log_in(page, url)
            page.goto(f"{url}/admin/events/{EVENT_ID}")
            page.get_by_role("link", name="Duplicate").click()
            expect(page).to_have_url(f"{url}/admin/editor/new?from={EVENT_ID}")
            expect(page.locator('[data-repeats="title"]')).to_be_visible()
            expect(page.locator('input[name="title.en"]')).to_have_value(
                "Valdai Club to Discuss Russia-North Korea Treaty")
            expect(page.locator("#previews")).to_contain_text("The previews appear as soon as")
            checked.append("Duplicate opened the editor: the title still as in the source and marked for review, "
                           "no previews yet (no date)")

            page.evaluate("window.notReloaded = true")  # gone if the page were loaded again
            page.fill('input[name="id"]', NEW_ID)
            page.fill('input[name="start"]', "2025-03-10T11:00")
            page.fill('input[name="end"]', "2025-03-10T13:00")
            telegram = page.locator('#previews article.preview[data-target="telegram"][data-step="announcement"]')
            expect(telegram.locator(".tg-text").first).to_contain_text("March 10, 11:00 Moscow Time")
            page.fill('input[name="title.en"]', "Spring Forum on Northeast Asia")
            page.fill('input[name="title.ru"]', "Весенний форум о Северо-Восточной Азии")
            expect(telegram.locator(".tg-text b").first).to_have_text("Spring Forum on Northeast Asia")
            russian = page.locator('#previews article.preview[data-target="telegram_ru"][data-step="announcement"]')
            expect(russian.locator(".tg-text b").first).to_have_text("Весенний форум о Северо-Восточной Азии")
            expect(page.locator('[data-repeats="title"]')).to_be_hidden()
            expect(page.locator('[data-repeats="description"]')).to_be_visible()
            assert page.evaluate("window.notReloaded") is True
            assert site.store.record(NEW_ID) is None
            checked.append("typing the id, dates and titles redrew the previews in place (no page load, nothing "
                           "saved): the Telegram posts show the new title and March 10, 11:00; the title is no "
                           "longer marked as a repeat, the description still is")

            page.select_option('select[name="status"]', "scheduled")
            assert serious(page) == []
            shots.append(shoot(page, tmp_path, "editor-1280"))
            page.set_viewport_size(PHONE)
            scroll, client = overflow(page)
            assert scroll <= client, (scroll, client)
            assert serious(page) == []
            shots.append(shoot(page, tmp_path, "editor-390"))
            checked.append(f"the filled editor at 1280 and 390 px: no serious or critical axe violation, no "
                           f"horizontal scrolling at 390 px ({scroll} <= {client})")

            page.set_viewport_size(DESKTOP)
            page.get_by_role("button", name="Create the event").first.click()
            expect(page).to_have_url(f"{url}/admin/events/{NEW_ID}")
            expect(page.locator(".flash.ok")).to_contain_text(f"{NEW_ID} created: 21 post(s) planned")
            expect(page.locator("#timeline tbody tr")).to_have_count(21)
            shots.append(shoot(page, tmp_path, "created-1280"))
            assert errors == [], errors
        finally:
            browser.close()
    stored = site.store.record(NEW_ID)
    assert stored is not None and stored.origin is EventOrigin.DASHBOARD
    event = stored.event
    assert event.title == {"en": "Spring Forum on Northeast Asia", "ru": "Весенний форум о Северо-Восточной Азии"}
    assert event.status is EventStatus.SCHEDULED and event.live == {} and event.report is None
    assert event.start == datetime(2025, 3, 10, 11, 0, tzinfo=event.zone)
    posts = site.store.posts(NEW_ID)
    assert len(posts) == 21
    # Everything planned, but the summary, which waits for a report (a duplicate has none).
    # The duplicate has no stream link yet (going live gives it) nor a report: those posts wait for them.
    assert {(p.kind, p.state) for p in posts} == {*((kind, PostState.PLANNED) for kind in (
        PostKind.ANNOUNCEMENT, PostKind.REMINDER)), (PostKind.LIVE, PostState.WAITING),
        (PostKind.SUMMARY, PostState.WAITING)}
    due = {(p.step_id, p.target): p.due_at for p in posts}
    assert due[("announcement", "telegram")] == event.start - timedelta(days=7)
    assert due[("summary", "vk")] == event.end + timedelta(hours=3)
    checked.append(f"saved: {NEW_ID} is stored (origin dashboard, scheduled, 10 March 2025 11:00 Moscow) with 21 "
                   "posts due relative to the new date, planned (the summary waiting for a report)")
    keep(shots, "editor.txt", checked)
