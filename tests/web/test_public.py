"""Public pages on the embedded reference event: the events list, the event's own page, what a shared link shows."""

from __future__ import annotations

import html
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import extruct
import httpx
import lxml.html
import pytest
from PIL import Image

from bot.domain import Event, pick
from bot.links import warn_without_public_url
from tests.web.support import EVENT_ID, IMPORTED, Site, SiteFactory, client_for


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
    assert "Wednesday, November 27, 2024, 11:00–13:00 Moscow Time (GMT+3)" in text  # the year, in the locale's order
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


# -- link cards and structured data ------------------------------------------------------------------

PUBLIC = "https://events.valdaiclub.com"
SCHEMA = "https://schema.org/"


@pytest.fixture
def public_url(web_env: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ANNOUNCE_BOT_WEB__PUBLIC_URL", PUBLIC + "/")
    return PUBLIC


def set_status(web_env: Path, status: str) -> None:
    path = web_env / "config" / "events" / "russia-dprk-treaty.yaml"
    path.write_text(path.read_text().replace("status: scheduled", f"status: {status}"))


def metadata(page: str, base: str = PUBLIC) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """What extruct reads from the page, as a link preview or a search engine would: the OpenGraph properties
    (in order, repeated ones kept) and the one JSON-LD object."""
    found = extruct.extract(page, base_url=base, syntaxes=["opengraph", "json-ld"])
    [og] = found["opengraph"]
    [data] = found["json-ld"]
    return og["properties"], data


def meta_names(page: str) -> dict[str, str]:
    """<meta name=... content=...> tags (Twitter's card), read with lxml."""
    tree = lxml.html.fromstring(page)
    return {node.get("name"): node.get("content") for node in tree.xpath("//meta[@name]")}


def links(page: str, rel: str) -> list[dict[str, str]]:
    tree = lxml.html.fromstring(page)
    return [dict(node.attrib) for node in tree.xpath(f"//head/link[@rel='{rel}']")]


@pytest.mark.parametrize(("status", "schema_status"), [
    ("scheduled", "EventScheduled"), ("postponed", "EventPostponed"), ("cancelled", "EventCancelled"),
])
async def test_link_card_and_event_data(public_url: str, make_site: SiteFactory, web_env: Path, status: str,
                                        schema_status: str) -> None:
    set_status(web_env, status)
    site = make_site()
    event = site.store.event(EVENT_ID)
    assert event is not None
    async with client_for(site) as http:
        page = (await http.get(f"/events/{EVENT_ID}")).text
        og, data = metadata(page)
        props = dict(og)
        page_url = f"{PUBLIC}/events/{EVENT_ID}"
        synopsis = ("Since the start of the special military operation in Ukraine, there has been a noticeable "
                    "rapprochement between Russia and the DPRK.")
        card = props["og:image"]
        assert card.startswith(f"{PUBLIC}/events/{EVENT_ID}/card.png?lang=en&size=og&v=")
        assert props == {
            "og:type": "website", "og:site_name": "Valdai Discussion Club",
            "og:title": "Valdai Club to Discuss Russia-North Korea Treaty", "og:description": synopsis,
            "og:locale": "en_US", "og:locale:alternate": "ru_RU", "og:url": page_url, "og:image": card,
            "og:image:type": "image/png", "og:image:width": "1200", "og:image:height": "630",
            "og:image:alt": "Valdai Club to Discuss Russia-North Korea Treaty",
        }
        twitter = {k: v for k, v in meta_names(page).items() if k.startswith("twitter:")}
        assert twitter == {
            "twitter:card": "summary_large_image", "twitter:title": props["og:title"],
            "twitter:description": synopsis, "twitter:site": "@valdaiclub", "twitter:image": card,
            "twitter:image:alt": props["og:title"],
        }
        assert meta_names(page)["description"] == synopsis
        speakers = [(pick(p.name, "en", "en"), pick(p.position, "en", "en")) for p in event.speakers]
        assert data == {
            "@context": "https://schema.org",
            "@type": "Event",
            "name": "Valdai Club to Discuss Russia-North Korea Treaty",
            "description": synopsis,
            "startDate": "2024-11-27T11:00:00+03:00",
            "endDate": "2024-11-27T13:00:00+03:00",
            "eventStatus": SCHEMA + schema_status,
            "eventAttendanceMode": SCHEMA + "MixedEventAttendanceMode",
            "location": [
                {"@type": "Place", "name": "Valdai Club Conference Hall",
                 "address": "Tsvetnoy boulevard 16/1, Moscow, Russia"},
                # Two days before, the stream links are held back: the page they will appear on.
                {"@type": "VirtualLocation", "url": page_url},
            ],
            "organizer": {"@type": "Organization", "name": "Valdai Discussion Club", "url": "https://valdaiclub.com"},
            "performer": [{"@type": "Person", "name": name, "jobTitle": position} for name, position in speakers],
            "image": [card],
            "inLanguage": ["ru", "en"],
            "url": page_url,
        }
        assert len(data["performer"]) == 6
        # The card the link shows exists, at the size it claims.
        image = await http.get(card.removeprefix(PUBLIC))
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(image.content)).size == (1200, 630)


async def test_a_live_event_points_its_virtual_location_at_the_stream(public_url: str, site: Site) -> None:
    event = site.store.event(EVENT_ID)
    assert event is not None
    site.clock.now = event.start
    async with client_for(site) as http:
        _, data = metadata((await http.get(f"/events/{EVENT_ID}")).text)
    assert data["location"][1] == {"@type": "VirtualLocation", "url": event.live["website"]}


async def test_the_russian_page_has_its_own_canonical_alternates_and_texts(public_url: str, site: Site) -> None:
    async with client_for(site) as http:
        page = (await http.get(f"/events/{EVENT_ID}", params={"lang": "ru"})).text
    og, data = metadata(page)
    props = dict(og)
    assert links(page, "canonical") == [{"rel": "canonical", "href": f"{PUBLIC}/events/{EVENT_ID}?lang=ru"}]
    alternates = {link["hreflang"]: link["href"] for link in links(page, "alternate") if "hreflang" in link}
    assert alternates == {"en": f"{PUBLIC}/events/{EVENT_ID}", "ru": f"{PUBLIC}/events/{EVENT_ID}?lang=ru",
                          "x-default": f"{PUBLIC}/events/{EVENT_ID}"}
    assert props["og:url"] == f"{PUBLIC}/events/{EVENT_ID}?lang=ru"
    assert props["og:locale"] == "ru_RU" and props["og:locale:alternate"] == "en_US"
    assert "lang=ru&size=og" in props["og:image"]
    # A real sentence, not the dative fragment the templates need ("договору России и КНДР…").
    description = meta_names(page)["description"]
    assert description == ("С начала специальной военной операции на Украине наблюдается заметное сближение "
                           "России и КНДР.")
    assert not description.startswith("договору")
    assert data["name"] == "Клуб «Валдай» обсудит договор России и КНДР"
    assert data["performer"][0]["name"] == "Дмитрий Кику"
    assert data["location"][0]["address"] == "Цветной бульвар, 16/1, Москва, Россия"
    assert "среда, 27 ноября 2024\u202fг., 11:00–13:00" in page  # the year, in Russian order (CLDR: a narrow space)
    # The English page's canonical is its plain address.
    async with client_for(site) as http:
        english = (await http.get(f"/events/{EVENT_ID}", params={"lang": "en"})).text
    assert links(english, "canonical")[0]["href"] == f"{PUBLIC}/events/{EVENT_ID}"


async def test_without_public_url_no_link_follows_the_host_header(site: Site) -> None:
    async with client_for(site) as http:
        http.headers["Host"] = "evil.example"
        pages = {path: await http.get(path) for path in (
            f"/events/{EVENT_ID}", f"/events/{EVENT_ID}?lang=ru", "/events", "/feeds/events.rss",
            "/feeds/events.ics", f"/events/{EVENT_ID}.ics")}
    for path, answer in pages.items():
        assert answer.status_code == 200, path
        assert "evil.example" not in answer.text, path
    page = pages[f"/events/{EVENT_ID}"].text
    assert links(page, "canonical") == [{"rel": "canonical", "href": f"/events/{EVENT_ID}"}]
    og, data = metadata(page, base="http://testserver/")
    names = {name for name, _ in og}
    assert "og:url" not in names and "og:image" not in names  # they must be absolute: left out
    assert "url" not in data and "image" not in data
    assert meta_names(page)["twitter:card"] == "summary"
    # The page itself still shows the card, by a relative link.
    assert f'src="/events/{EVENT_ID}/card.png?lang=en&amp;size=og&amp;v=' in page


async def test_the_warning_at_start_names_the_setting(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    assert warn_without_public_url(site.config.settings)
    assert "[web] public_url is not set" in caplog.text


async def test_event_data_cannot_break_out_of_its_script(make_site: SiteFactory, web_env: Path) -> None:
    path = web_env / "config" / "events" / "russia-dprk-treaty.yaml"
    hostile = "Russia & China </script><script>alert(1)</script> <!-- &amp;"
    text = path.read_text().replace("en: Valdai Club to Discuss Russia-North Korea Treaty", f"en: '{hostile}'")
    path.write_text(text)
    site = make_site()
    async with client_for(site) as http:
        page = (await http.get(f"/events/{EVENT_ID}")).text
    assert "<script>alert(1)" not in page
    og, data = metadata(page, base="http://testserver/")
    assert data["name"] == hostile and dict(og)["og:title"] == hostile


async def test_cards_are_served_per_language_and_size(site: Site, client: httpx.AsyncClient) -> None:
    answer = await client.get(f"/events/{EVENT_ID}/card.png", params={"lang": "ru", "size": "x"})
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(answer.content)).size == (1600, 900)
    assert answer.headers["cache-control"] == "public, max-age=300"  # no version asked: checked again soon
    [cached] = (site.workdir / "var" / "cards" / EVENT_ID).glob("ru-x-*.png")
    assert cached.read_bytes() == answer.content
    version = cached.stem.rsplit("-", 1)[1]
    pinned = await client.get(f"/events/{EVENT_ID}/card.png", params={"lang": "ru", "size": "x", "v": version})
    assert pinned.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert (await client.get(f"/events/{EVENT_ID}/card.png", params={"size": "huge"})).status_code == 404
    assert (await client.get(f"/events/{EVENT_ID}/card.png", params={"lang": "de"})).status_code == 404
    assert (await client.get("/events/nope/card.png")).status_code == 404


async def test_an_event_page_is_made_once_per_version_and_a_change_shows_at_once(
    site: Site, client: httpx.AsyncClient
) -> None:
    first = await client.get(f"/events/{EVENT_ID}")
    again = await client.get(f"/events/{EVENT_ID}")
    assert again.content == first.content and "in 2 days" in again.text
    event = site.store.event(EVENT_ID)
    assert event is not None
    renamed = event.model_copy(update={"title": "Renamed Treaty Talk"})
    site.store.sync_event(renamed, "dashboard", [], now=site.clock.now)  # as another process would save it
    changed = await client.get(f"/events/{EVENT_ID}")
    assert "<h1>Renamed Treaty Talk</h1>" in changed.text
    site.clock.now += timedelta(days=1)  # the countdown moves on: made again
    assert "in 1 day" in (await client.get(f"/events/{EVENT_ID}")).text
    russian = await client.get(f"/events/{EVENT_ID}", params={"lang": "ru"})
    assert russian.content != changed.content  # one page per language


async def test_the_public_page_drops_the_accreditation_after_the_deadline(site: Site, client: httpx.AsyncClient
                                                                          ) -> None:
    stored = site.store.record(EVENT_ID)
    assert stored is not None
    data = stored.event.model_dump()
    data["accreditation"]["deadline"] = datetime(2024, 11, 25, 18, 0)  # Moscow time: 15:00 UTC
    site.store.sync_event(Event.model_validate(data), stored.source, [], now=IMPORTED)
    deadline = datetime(2024, 11, 25, 15, 0, tzinfo=UTC)
    site.clock.now = deadline - timedelta(hours=1)
    page = html.unescape((await client.get(f"/events/{EVENT_ID}")).text)
    assert 'id="media"' in page and "Accreditation closes November 25, 18:00" in page
    site.clock.now = deadline + timedelta(seconds=1)
    page = html.unescape((await client.get(f"/events/{EVENT_ID}")).text)
    assert 'id="media"' not in page and "Accreditation form" not in page
