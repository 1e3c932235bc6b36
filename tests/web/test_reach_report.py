"""The reach report in the dashboard: the page with its SVG charts (no script), the CSV, the printable page (PNG in
the event's language), "read now" with its cost shown first; and in real Chromium at 1280 and 390 px (screenshots
under var/test-artifacts)."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import expect, sync_playwright

from bot.accounts import Role
from bot.domain import PostState
from bot.images.fonts import chain
from bot.printable import WORDS, printable_png
from tests.conftest import Platforms
from tests.web.browser import (
    ARTIFACTS,
    DESKTOP,
    PHONE,
    Served,
    context,
    keep,
    launch,
    log_in,
    overflow,
    serious,
    shoot,
    watch,
)
from tests.web.support import EVENT_ID, PASSWORD, Clock, Site, SiteFactory, add_user, csrf_of, login

ANNOUNCED = datetime(2024, 11, 20, 8, 0, tzinfo=UTC)
SERVICE = "vk-service-SECRET-key"


def secure_client(site: Site) -> httpx.AsyncClient:
    """With [web] public_url on https, the session cookie is Secure: the client speaks https to the app."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=site.app), base_url="https://testserver")


@pytest.fixture
def reach_site(platforms: Platforms, make_site: SiteFactory, monkeypatch: pytest.MonkeyPatch) -> Site:
    """The site publishing to the fake Telegram, VK and X, VK read with a service token, clicks counted."""
    monkeypatch.setenv("ANNOUNCE_BOT_DELIVERY__RATE_LIMIT", "false")
    monkeypatch.setenv("ANNOUNCE_BOT_WEB__PUBLIC_URL", "https://events.example.org")
    monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__VK__SERVICE_TOKEN", SERVICE)
    monkeypatch.setenv("ANNOUNCE_BOT_REACH__COUNT_FLUSH", "0")
    platforms.vk.service_token = SERVICE
    return make_site(clock=Clock(ANNOUNCED))


async def read_over_a_week(site: Site, fakes: Platforms) -> None:
    """The announcement goes out; VK's views and X's impressions grow; the readings are made at 1 h, 24 h, 7 days."""
    await site.runtime.dispatcher.dispatch()
    await site.runtime.dispatcher.drain()
    assert {p.target: p.state for p in site.store.posts(EVENT_ID) if p.step_id == "announcement"}["vk"] \
        is PostState.SENT
    reach = site.runtime.operations.reach
    await reach.sweep()
    for hours, views, impressions in ((1, 420, 310), (24, 1900, 1250), (168, 2600, 1710)):
        fakes.vk.posts[0].views, fakes.vk.posts[0].likes = views, views // 40
        fakes.x.tweets[0].metrics.update(impression_count=impressions, like_count=impressions // 50)
        site.clock.now = ANNOUNCED + timedelta(hours=hours)
        await reach.sweep()


async def test_the_report_page_csv_and_printable_page(reach_site: Site, platforms: Platforms) -> None:
    site = reach_site
    await read_over_a_week(site, platforms)
    async with secure_client(site) as http:
        assert (await http.get(f"/admin/events/{EVENT_ID}/report")).status_code == 303  # log in first
        await login(http)
        event_page = await http.get(f"/admin/events/{EVENT_ID}")
        assert f'href="/admin/events/{EVENT_ID}/report"' in event_page.text
        answer = await http.get(f"/admin/events/{EVENT_ID}/report")
        assert answer.status_code == 200
        page = html.unescape(answer.text)
        assert page.count("<svg") == 2 and "<polyline" in page and "<script" not in page.split("<main", 1)[-1]
        assert "VK 2,600" in page and "X 1,710" in page  # each line's latest figure
        assert 'data-platform="dzen"' in page and "not available on this platform: Dzen has no API" in page
        assert "views not available on this platform: the Bot API gives no view counts" in page
        assert "x: 1 of 1 post(s), $0.005 (X bills each post read)" in page  # what "read now" reads and costs
        # The CSV: a row per post, then per platform.
        table = await http.get(f"/admin/events/{EVENT_ID}/report.csv")
        assert table.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(table.text)))
        vk = next(row for row in rows if row["row"] == "post" and row["target"] == "vk")
        assert (vk["views"], vk["likes"], vk["step"]) == ("2600", "65", "announcement")
        dzen = next(row for row in rows if row["row"] == "platform" and row["platform"] == "dzen")
        assert dzen["views"] == "" and "not available" in dzen["note"]
        # The printable page: one A4 page in the event's language.
        printable = await http.get(f"/admin/events/{EVENT_ID}/report.png")
        assert printable.headers["content-type"] == "image/png"
        image = Image.open(io.BytesIO(printable.content))
        assert image.size == (1240, 1754)
        # Read now (an editor): the page said what it reads and costs.
        refresh = await http.post(f"/admin/events/{EVENT_ID}/report/refresh", data={"csrf_token": csrf_of(page)})
        assert refresh.status_code == 303
        back = html.unescape((await http.get(f"/admin/events/{EVENT_ID}/report")).text)
        assert "read now: vk 1, x 1 ($0.005)" in back


async def test_a_viewer_reads_the_report_but_cannot_spend_on_reading(reach_site: Site) -> None:
    site = reach_site
    add_user(site, "vera", Role.VIEWER, password=PASSWORD)
    async with secure_client(site) as http:
        await login(http, name="vera")
        page = await http.get(f"/admin/events/{EVENT_ID}/report")
        assert page.status_code == 200 and "Nothing published yet." in page.text
        refused = await http.post(f"/admin/events/{EVENT_ID}/report/refresh", data={"csrf_token": csrf_of(page.text)})
        assert refused.status_code == 403


async def test_the_printable_page_is_in_the_events_language(reach_site: Site, platforms: Platforms) -> None:
    await read_over_a_week(reach_site, platforms)
    report = await reach_site.runtime.operations.reach.report(EVENT_ID)
    assert report is not None and report.lang == "en"
    assert all(character in chain()[0].chars for character in map(ord, WORDS["ru"]["title"]))  # Cyrillic drawn
    english, russian = printable_png(report), printable_png(replace(report, lang="ru"))
    assert english != russian  # the same figures, the other language's words
    assert Image.open(io.BytesIO(russian)).size == (1240, 1754)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)  # to look at: the page leadership gets
    (ARTIFACTS / "report-print-en.png").write_bytes(english)
    (ARTIFACTS / "report-print-ru.png").write_bytes(russian)


@pytest.fixture
def served_reach(reach_site: Site, platforms: Platforms) -> Iterator[Served]:
    server = Served(reach_site).start()
    server.call(lambda: read_over_a_week(reach_site, platforms))
    yield server
    server.stop()


@pytest.mark.slow  # Chromium
def test_the_report_page_in_chromium_at_1280_and_390_px(served_reach: Served, tmp_path: Path) -> None:
    checked: list[str] = []
    shots = []
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            for name, viewport in (("report-1280", DESKTOP), ("report-390", PHONE)):
                page = context(browser, viewport).new_page()
                errors = watch(page)
                log_in(page, served_reach.url)
                page.goto(f"{served_reach.url}/admin/events/{EVENT_ID}/report")
                expect(page.locator("svg.chart")).to_have_count(2)
                expect(page.locator("svg.chart polyline")).to_have_count(2)  # VK's and X's lines
                box = page.locator("svg.chart").first.bounding_box()
                assert box is not None and box["width"] > 300 and box["width"] <= viewport["width"]
                scroll, client = overflow(page)
                assert scroll <= client, f"{name} scrolls sideways: {scroll} > {client}"
                assert serious(page) == [], serious(page)
                shots.append(shoot(page, tmp_path, name))
                assert errors == [], errors
                checked.append(f"{name}: two SVG charts ({box['width']:.0f} px wide), no sideways scrolling, "
                               "no serious axe-core violations, no console errors")
                page.context.close()
        finally:
            browser.close()
    keep(shots, "report.txt", checked)
