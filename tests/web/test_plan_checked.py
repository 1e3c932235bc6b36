"""The plan checked when it is made, in Chromium (issue 19): an organiser creates an event three days ahead, is told
before saving that its announcement goes out now, saves, and the fake Telegram gets it once; a 50 kB description
is refused at its field with the limit named; a 20,000-character title at once. And the process keeps answering
while a preview renders (a slow template: the previews are drawn off the event loop)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect, sync_playwright

from bot.domain import PostKind, PostState
from tests.fakes.telegram import FakeTelegram
from tests.web.browser import DESKTOP, Served, context, launch, log_in, shoot, watch
from tests.web.editor_pages import form_fields
from tests.web.support import EVENT_ID, Clock, Site, SiteFactory, client_for, login

NEW_ID = "three-days-ahead"
MOSCOW = ZoneInfo("Europe/Moscow")  # the reference event's zone, which its copy keeps
NOW = datetime(2024, 11, 5, 9, 0, tzinfo=UTC)  # before the reference event's campaign: none of its posts is due
START = NOW + timedelta(days=3)


@pytest.fixture
def checked_site(fake_telegram: FakeTelegram, make_site: SiteFactory, monkeypatch: pytest.MonkeyPatch
                 ) -> Iterator[tuple[Served, Site]]:
    monkeypatch.setenv("ANNOUNCE_BOT_DELIVERY__RATE_LIMIT", "false")
    site = make_site(with_dispatcher=True, clock=Clock(NOW))
    served = Served(site).start()
    yield served, site
    served.stop()


@pytest.mark.slow  # Chromium
def test_an_event_three_days_ahead_is_announced_at_once_and_oversized_texts_are_refused(
    checked_site: tuple[Served, Site], fake_telegram: FakeTelegram, tmp_path: Path
) -> None:
    served, site = checked_site
    url = served.url
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = context(browser, DESKTOP).new_page()
            errors = watch(page)
            log_in(page, url)
            page.goto(f"{url}/admin/editor/new?from={EVENT_ID}")
            page.fill('input[name="id"]', NEW_ID)
            page.fill('input[name="title.en"]', "Three Days Ahead")
            page.fill('input[name="title.ru"]', "За три дня")
            page.fill('input[name="start"]', f"{START.astimezone(MOSCOW):%Y-%m-%dT%H:%M}")
            page.fill('input[name="end"]', f"{(START + timedelta(hours=2)).astimezone(MOSCOW):%Y-%m-%dT%H:%M}")
            page.select_option('select[name="status"]', "scheduled")
            # Told before saving: its announcement's time, a week before the start, has passed.
            told = page.locator("#told")
            expect(told).to_be_visible()
            expect(told.locator("ul.notes")).to_contain_text(
                "announcement goes out now: its time, 7 days before the start, has passed")
            shoot(page, tmp_path, "plan-told-1280")
            assert site.store.record(NEW_ID) is None
            page.get_by_role("button", name="Create the event").first.click()
            expect(page).to_have_url(f"{url}/admin/events/{NEW_ID}")
            expect(page.locator(".flash.ok")).to_contain_text("announcement goes out now")

            async def sweep() -> None:
                await site.runtime.dispatcher.dispatch()
                await site.runtime.dispatcher.drain()

            served.call(sweep)
            served.call(sweep)  # a second sweep sends nothing again
            announced = [m for m in fake_telegram.in_chat("@valdaiclub") if "Three Days Ahead" in m.get("text", "")]
            assert len(announced) == 1
            posts = {(p.step_id, p.target): p for p in site.store.posts(NEW_ID)}
            assert posts["announcement", "telegram"].state is PostState.SENT
            assert posts["reminder-1d", "telegram"].state is PostState.PLANNED  # still ahead: at its time

            # A 50 kB description: refused at its field, the limit named, nothing saved.
            page.goto(f"{url}/admin/editor/new?from={EVENT_ID}")
            page.fill('input[name="id"]', "fifty-kilobytes")
            page.fill('input[name="start"]', "2025-03-10T11:00")
            page.fill('input[name="end"]', "2025-03-10T13:00")
            page.fill('textarea[name="description.en"]', "A fifty-kilobyte description. " * 1_700)
            page.get_by_role("button", name="Create the event").first.click()
            expect(page.locator("#f-description-errors")).to_contain_text(
                "at most 20,000 characters; this one has 50,999")
            assert site.store.record("fifty-kilobytes") is None
            shoot(page, tmp_path, "plan-description-refused-1280")

            # A 20,000-character title: refused by the preview as it is typed, no previews drawn of it.
            page.fill('textarea[name="description.en"]', "Short.")
            page.fill('input[name="title.en"]', "T" * 20_000)
            expect(page.locator("#f-title-errors")).to_contain_text("at most 300 characters; this one has 20,000")
            expect(page.locator("#previews")).to_contain_text("The previews appear as soon as")
            # The refused form comes back as the page, with status 422: the browser logs that status, nothing else.
            assert [e for e in errors if "status of 422" not in e] == [], errors
        finally:
            browser.close()
    assert site.runtime.store.posts(NEW_ID)
    assert {p.kind for p in site.store.posts(NEW_ID) if p.state is PostState.SENT} == {PostKind.ANNOUNCEMENT}


# About a second of work for the sandboxed Jinja (400,000 steps), within the previews' time budget.
SLOW = """{% set ns = namespace(n=0) %}{% for i in range(20000) %}{% for j in range(20) %}{% set ns.n = ns.n + 1 %}\
{% endfor %}{% endfor %}Slow {{ ns.n }} {{ event.title }}"""


async def test_the_process_answers_while_a_preview_renders(make_site: SiteFactory, web_env: Path) -> None:
    # A 20,000-character title once took 55 s to preview, during which /healthz timed out: the previews are drawn
    # in a worker thread, so the event loop answers meanwhile. A template of the tests' own makes one preview slow.
    (web_env / "templates" / "x" / "announcement.en.j2").write_text(SLOW, encoding="utf-8")
    site = make_site()
    async with client_for(site) as admin:
        assert (await login(admin)).status_code == 303
        fields = form_fields((await admin.get(f"/admin/editor/new?from={EVENT_ID}")).text)
        fields.update({"id": "slow-one", "start": "2025-03-10T11:00", "end": "2025-03-10T13:00"})
        preview = asyncio.ensure_future(admin.post("/admin/editor/preview", data=fields))
        answered = 0
        while not preview.done():
            health = await admin.get("/healthz")
            assert health.status_code == 200 and health.json()["status"] == "ok"
            answered += preview.done() is False
            await asyncio.sleep(0)
        body = (await preview).json()
        assert "Slow 400000 Valdai Club" in body["previews"]
        # Were the previews drawn on the event loop, no health check could have been answered meanwhile.
        assert answered >= 3, answered
    await site.publisher.aclose()
