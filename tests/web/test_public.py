"""Public pages on the embedded reference event: the events list and the event's own page."""

from __future__ import annotations

from datetime import timedelta

import httpx

from bot.domain import pick
from bot.rendering.context import view
from tests.web.support import EVENT_ID, Site


async def test_root_leads_to_the_events(client: httpx.AsyncClient) -> None:
    answer = await client.get("/")
    assert answer.status_code == 303 and answer.headers["location"] == "/events"


async def test_events_list_splits_upcoming_and_past_by_the_clock(site: Site, client: httpx.AsyncClient) -> None:
    before = await client.get("/events")
    assert before.status_code == 200
    upcoming, past = before.text.split('id="past"')
    assert f'href="/events/{EVENT_ID}"' in upcoming and EVENT_ID not in past
    assert "Valdai Club to Discuss Russia-North Korea Treaty" in upcoming

    site.clock.now = site.store.event(EVENT_ID).end + timedelta(minutes=1)  # type: ignore[union-attr]
    after = await client.get("/events")
    upcoming, past = after.text.split('id="past"')
    assert EVENT_ID not in upcoming and f'href="/events/{EVENT_ID}"' in past


async def test_event_page_has_the_facts_speakers_and_a_countdown(site: Site, client: httpx.AsyncClient) -> None:
    event = site.store.event(EVENT_ID)
    assert event is not None
    page = await client.get(f"/events/{EVENT_ID}")
    assert page.status_code == 200
    text = page.text
    assert "<h1>Valdai Club to Discuss Russia-North Korea Treaty</h1>" in text
    when = view(event, "en")
    assert f"{when.start.full} – {when.end.time}" in text  # in the locale's own words, as the posts say it
    assert "Valdai Club Conference Hall, Tsvetnoy boulevard 16/1, Moscow, Russia" in text
    for person in event.speakers:
        assert pick(person.name, "en", "en") in text
    assert "Ivan Timofeev" in text and 'id="moderator"' in text
    # Two days before: the countdown, in words and as a live timer the script keeps going.
    assert "in 2 days" in text
    assert 'data-countdown data-start="2024-11-27T08:00:00+00:00"' in text
    assert '<script src="/static/countdown.js" defer></script>' in text
    script = await client.get("/static/countdown.js")
    assert script.status_code == 200 and "data-countdown" in script.text
    # The broadcast links are not there yet.
    assert event.live["website"] not in text
    assert "Links to the live broadcast appear here when it starts." in text
    assert f'href="/events/{EVENT_ID}.ics"' in text


async def test_broadcast_links_show_once_live(site: Site, client: httpx.AsyncClient) -> None:
    event = site.store.event(EVENT_ID)
    assert event is not None
    site.clock.now = event.start - timedelta(minutes=10)
    page = (await client.get(f"/events/{EVENT_ID}")).text
    assert 'data-phase="live"' in page and "Live now" in page
    for url in event.live.values():
        assert f'href="{url}"' in page
    assert "data-countdown" not in page

    site.clock.now = event.end + timedelta(hours=1)
    ended = (await client.get(f"/events/{EVENT_ID}")).text
    assert 'data-phase="ended"' in ended and "The event has ended." in ended
    assert 'id="report"' in ended and "On November 27, the Valdai Club hosted an expert discussion" in ended


async def test_event_page_in_russian(client: httpx.AsyncClient) -> None:
    page = await client.get(f"/events/{EVENT_ID}", params={"lang": "ru"})
    assert page.status_code == 200
    assert '<html lang="ru">' in page.text
    assert "Клуб «Валдай» обсудит договор России и КНДР" in page.text
    assert "Спикеры" in page.text and "Дмитрий Кику" in page.text
    assert "через 2 дня" in page.text
    # An unknown language falls back to the event's own.
    other = await client.get(f"/events/{EVENT_ID}", params={"lang": "xx"})
    assert '<html lang="en">' in other.text


async def test_unknown_event_is_404(client: httpx.AsyncClient) -> None:
    answer = await client.get("/events/no-such-event")
    assert answer.status_code == 404
    assert "no such event" in answer.text


async def test_public_pages_carry_security_headers(client: httpx.AsyncClient) -> None:
    answer = await client.get(f"/events/{EVENT_ID}")
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    assert "set-cookie" not in answer.headers  # the public pages keep no session
