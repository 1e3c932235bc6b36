"""Feeds read back as a reader would: the Dzen RSS with feedparser, calendars with icalendar, the plain RSS."""

from __future__ import annotations

import html
import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser
import httpx
import pytest
from icalendar import Calendar
from PIL import Image

from bot.adapters.dzen import NAMESPACES
from bot.summaries import synopsis
from tests.web.support import EVENT_ID, Site, SiteFactory, client_for, csrf_of, login


async def test_dzen_feed_before_anything_is_published_is_an_empty_feed(client: httpx.AsyncClient) -> None:
    answer = await client.get("/feeds/dzen.xml")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/rss+xml; charset=utf-8"
    feed = feedparser.parse(answer.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.title == "Valdai Discussion Club" and feed.entries == []


async def test_dzen_feed_serves_what_the_adapter_wrote(site: Site, admin: httpx.AsyncClient) -> None:
    post_id = site.post_id("announcement", "dzen")
    page = await admin.get(f"/admin/events/{EVENT_ID}")
    await admin.post(f"/admin/posts/{post_id}/publish", data={"csrf_token": csrf_of(page.text)})
    assert site.state(post_id) == "sent"
    answer = await admin.get("/feeds/dzen.xml")
    assert answer.content == (site.workdir / "var" / "feeds" / "dzen.xml").read_bytes()  # the file, as written
    feed = feedparser.parse(answer.content)
    assert not feed.bozo
    [entry] = feed.entries
    assert entry.id == f"{EVENT_ID}-announcement"
    assert entry.title == "Клуб «Валдай» обсудит договор России и КНДР"
    assert entry.link == "https://valdaiclub.com/events/announcements/russia-dprk-treaty/"
    assert "Дмитрий Кику" in entry.content[0].value
    assert {tag.term for tag in entry.tags} >= {"native-draft", "format-article"}
    root = ET.fromstring(answer.content)
    assert root.find("channel/item/content:encoded", NAMESPACES) is not None
    # A reader that has it already gets a 304.
    again = await admin.get("/feeds/dzen.xml", headers={"If-None-Match": answer.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    # The first feed has one address, the one its atom:link rel=self names: its name's address leads there.
    named = await admin.get("/feeds/dzen/dzen.xml")
    assert named.status_code == 301 and named.headers["location"] == "/feeds/dzen.xml"
    assert (await admin.get("/feeds/dzen/nope.xml")).status_code == 404


async def test_a_damaged_dzen_feed_file_is_reported_not_served(site: Site, client: httpx.AsyncClient) -> None:
    path = site.workdir / "var" / "feeds" / "dzen.xml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("<rss><channel><item>")
    answer = await client.get("/feeds/dzen.xml")
    assert answer.status_code == 503 and "not valid XML" in answer.text


async def test_calendar_feed_parses_with_the_event_in_its_own_zone(site: Site, client: httpx.AsyncClient) -> None:
    answer = await client.get("/feeds/events.ics")
    assert answer.status_code == 200 and answer.headers["content-type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(answer.content)
    assert str(calendar["VERSION"]) == "2.0"
    [event] = calendar.walk("VEVENT")
    assert str(event["UID"]) == f"{EVENT_ID}@announce-bot"  # not the request's host: no public_url is set
    assert str(event["SUMMARY"]) == "Valdai Club to Discuss Russia-North Korea Treaty"
    start = event.decoded("DTSTART")
    assert start == datetime(2024, 11, 27, 11, 0, tzinfo=ZoneInfo("Europe/Moscow"))
    assert event["DTSTART"].params["TZID"] == "Europe/Moscow"
    assert event.decoded("DTEND").astimezone(UTC) == datetime(2024, 11, 27, 10, 0, tzinfo=UTC)
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Moscow"]
    assert str(event["URL"]) == "https://valdaiclub.com/events/announcements/russia-dprk-treaty/"  # the organiser's
    assert "Tsvetnoy boulevard 16/1" in str(event["LOCATION"])
    assert str(event["STATUS"]) == "CONFIRMED"
    description = str(event["DESCRIPTION"])
    assert "Dmitry Kiku" in description and "https://valdaiclub.com/multimedia/video/russia-dprk-treaty/" in description


async def test_the_calendar_feed_is_a_subscription_per_language(client: httpx.AsyncClient) -> None:
    english = await client.get("/feeds/events.ics")
    russian = await client.get("/feeds/events.ics", params={"lang": "ru"})
    # Calendar apps read a subscribed feed again every hour (RFC 7986; Outlook's own property).
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in english.content
    assert b"X-PUBLISHED-TTL:PT1H\r\n" in english.content
    calendar = Calendar.from_ical(russian.content)
    assert str(calendar["X-WR-CALNAME"]) == "Международный дискуссионный клуб «Валдай»"
    assert str(calendar.walk("VEVENT")[0]["SUMMARY"]) == "Клуб «Валдай» обсудит договор России и КНДР"
    assert str(Calendar.from_ical(english.content)["X-WR-CALNAME"]) == "Valdai Discussion Club"
    # One event's file is an import, not a subscription: nothing to re-read.
    assert b"REFRESH-INTERVAL" not in (await client.get(f"/events/{EVENT_ID}.ics")).content


async def test_one_events_calendar(client: httpx.AsyncClient) -> None:
    answer = await client.get(f"/events/{EVENT_ID}.ics")
    assert answer.status_code == 200
    assert answer.headers["content-disposition"] == f'attachment; filename="{EVENT_ID}.ics"'
    calendar = Calendar.from_ical(answer.content)
    assert [str(e["UID"]) for e in calendar.walk("VEVENT")] == [f"{EVENT_ID}@announce-bot"]
    assert (await client.get("/events/nope.ics")).status_code == 404


async def test_a_cancelled_event_is_cancelled_in_the_calendar(make_site: SiteFactory, web_env: Path) -> None:
    path = web_env / "config" / "events" / "russia-dprk-treaty.yaml"
    path.write_text(path.read_text().replace("status: scheduled", "status: cancelled"))
    site = make_site()
    async with client_for(site) as http:
        calendar = Calendar.from_ical((await http.get("/feeds/events.ics")).content)
        assert str(calendar.walk("VEVENT")[0]["STATUS"]) == "CANCELLED"
        feed = feedparser.parse((await http.get("/feeds/events.rss")).content)
        assert feed.entries[0].title.startswith("[cancelled] ")


async def test_announcements_rss_lists_announced_events(site: Site, client: httpx.AsyncClient) -> None:
    answer = await client.get("/feeds/events.rss")
    assert answer.status_code == 200
    feed = feedparser.parse(answer.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.title == "Valdai Discussion Club"
    [entry] = feed.entries
    assert entry.title == "Valdai Club to Discuss Russia-North Korea Treaty"
    assert entry.link == f"/events/{EVENT_ID}"  # relative while public_url is unset, never from the Host header
    assert entry.id == entry.link
    assert feed.feed.language == "en"
    # Published when the campaign announces it: a week before the start.
    assert datetime(*entry.published_parsed[:6], tzinfo=UTC) == datetime(2024, 11, 20, 8, 0, tzinfo=UTC)
    event = site.store.event(EVENT_ID)
    assert event is not None
    assert "Wednesday, November 27, 2024, 11:00–13:00 Moscow Time (GMT+3)" in entry.summary
    assert entry.summary.endswith(synopsis(event, "en"))
    assert "The Valdai Club will host an expert discussion" in entry.summary


async def test_an_event_is_not_in_the_rss_before_its_announcement(site: Site, client: httpx.AsyncClient) -> None:
    site.clock.now = datetime(2024, 11, 19, tzinfo=UTC)
    feed = feedparser.parse((await client.get("/feeds/events.rss")).content)
    assert feed.entries == []


@pytest.fixture
def public_url(web_env: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ANNOUNCE_BOT_WEB__PUBLIC_URL", "https://events.valdaiclub.com/")
    return "https://events.valdaiclub.com"


async def test_feeds_link_to_the_public_url(public_url: str, make_site: SiteFactory) -> None:
    site = make_site()
    async with client_for(site) as http:
        feed = feedparser.parse((await http.get("/feeds/events.rss")).content)
        assert feed.entries[0].link == f"{public_url}/events/{EVENT_ID}"
        calendar = Calendar.from_ical((await http.get("/feeds/events.ics")).content)
        assert str(calendar.walk("VEVENT")[0]["UID"]) == f"{EVENT_ID}@events.valdaiclub.com"


async def test_a_dzen_item_without_a_cover_carries_the_events_card(public_url: str, make_site: SiteFactory) -> None:
    site = make_site()
    post_id = site.post_id("announcement", "dzen")
    # Over HTTPS, as public_url says: the session cookie is then HTTPS-only.
    transport = httpx.ASGITransport(app=site.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://events.valdaiclub.com") as http:
        assert (await login(http)).status_code == 303
        page = await http.get(f"/admin/events/{EVENT_ID}")
        await http.post(f"/admin/posts/{post_id}/publish", data={"csrf_token": csrf_of(page.text)})
        assert site.state(post_id) == "sent"
        answer = await http.get("/feeds/dzen.xml")
        feed = feedparser.parse(answer.content)
        assert not feed.bozo
        # The feed names itself by the address it is served at.
        assert {(link.rel, link.href) for link in feed.feed.links} >= {("self", f"{public_url}/feeds/dzen.xml")}
        [entry] = feed.entries
        [enclosure] = entry.enclosures
        assert enclosure.type == "image/png"
        # The enclosure's length is the card's real size in bytes.
        card = await http.get(enclosure.href.removeprefix(public_url))
        assert card.status_code == 200 and int(enclosure.length) == len(card.content) > 0
        # The article does not say its title again: Dzen shows it above the body.
        assert "<b>Клуб «Валдай» обсудит договор России и КНДР</b>" not in entry.content[0].value
        assert entry.title == "Клуб «Валдай» обсудит договор России и КНДР"
        assert enclosure.href.startswith(f"{public_url}/events/{EVENT_ID}/card.png?lang=ru&size=dzen&v=")
        figure, _ = entry.content[0].value.split("</figure>", 1)  # the cover on top of the article too
        assert figure.startswith("<figure><img") and f'src="{html.escape(enclosure.href)}"' in figure
        card = await http.get(enclosure.href.removeprefix(public_url))
        assert card.status_code == 200
        assert Image.open(io.BytesIO(card.content)).size == (1280, 720)  # at least 700 px wide, as Dzen asks
    await site.publisher.aclose()


async def test_rss_in_russian(public_url: str, make_site: SiteFactory) -> None:
    site = make_site()
    async with client_for(site) as http:
        feed = feedparser.parse((await http.get("/feeds/events.rss", params={"lang": "ru"})).content)
    assert feed.feed.language == "ru"
    [entry] = feed.entries
    assert entry.title == "Клуб «Валдай» обсудит договор России и КНДР"
    assert entry.link == f"{public_url}/events/{EVENT_ID}?lang=ru"
    assert "Среда, 27 ноября 2024\u202fг., 11:00–13:00 по московскому времени" in entry.summary
    assert feed.feed.title == "Международный дискуссионный клуб «Валдай»"  # the site's name in Russian
    assert {(link.rel, link.href) for link in feed.feed.links} >= {("self", f"{public_url}/feeds/events.rss?lang=ru")}
