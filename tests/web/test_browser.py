"""The dashboard in real headless Chromium (Debian's package, driven by Playwright): log in, check the previews,
take a screenshot, publish a post to the fake Telegram and watch its state change."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from bot.delivery import render_post
from bot.domain import Event, PostKind, pick
from bot.platforms import visible_text
from bot.web.server import WebServer
from tests.conftest import ROOT
from tests.fakes.telegram import FakeTelegram
from tests.web.support import EVENT_ID, PASSWORD, Site

CHROMIUM = Path("/usr/bin/chromium")
# No downloaded browser builds, no calls home: only the loopback app is ever asked for.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = ROOT / "var" / "test-artifacts"


def chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing under CI: .ci/run installs Debian's chromium package")
    pytest.skip(f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium); CI installs it")


class Served:
    """The app served by uvicorn on a free loopback port, in a thread with its own event loop."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.url = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="web-under-test", daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            server = WebServer(self.site.app, "127.0.0.1", 0)
            await server.start()
            self.url = server.url
            self._ready.set()
            await self._stop.wait()
            await server.stop()
            await self.site.publisher.aclose()

        try:
            asyncio.run(main())
        except BaseException as exc:  # shown by start()
            self._error = exc
            self._ready.set()

    def start(self) -> Served:
        self._thread.start()
        assert self._ready.wait(20), "the web app did not start"
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(20)


@pytest.fixture
def served(telegram_site: Site) -> Iterator[Served]:
    served = Served(telegram_site).start()
    yield served
    served.stop()


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
            expect(page.locator("#timeline tbody tr")).to_have_count(22)
            checked.append("opened the reference event: its timeline has 22 planned posts")

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
