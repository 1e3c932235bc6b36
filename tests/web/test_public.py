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
    assert "Дмитрий Кику" in page.text and "через 2 дня" in page.text
    tree = lxml.html.fromstring(page.text)
    # Every word of the page in Russian: the header, the navigation, the labels (as the posts say them).
    assert tree.find_class("brand")[0].text_content() == "Международный дискуссионный клуб «Валдай»"
    assert [(a.text_content(), a.get("href")) for a in tree.xpath("//header/nav/a")] == [
        ("Мероприятия", "/events?lang=ru"), ("RSS", "/feeds/events.rss?lang=ru"),
        ("Календарь", "/feeds/events.ics?lang=ru")]
    assert [h.text_content() for h in tree.xpath("//article//h2")] == [
        "Смотрите трансляцию", "Участники", "Модератор", "Информация для СМИ"]
    assert "Спикеры" not in page.text and "Speakers" not in page.text
    facts = [node.text for node in tree.xpath("//dl[@class='facts']/*")]
    assert facts[:2] == ["Когда", "Среда, 27 ноября 2024\u202fг., 11:00–13:00 по московскому времени"]
    english = {"Events", "Calendar", "When", "Venue", "Starts", "Watch the broadcast", "Moderator", "Add to calendar",
               "Event page", "Valdai Discussion Club"}
    assert not [word for word in english if f">{word}<" in page.text]
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
        # Not the description's first sentence: what, on what, where and when (the event has no lead).
        what = "an expert discussion dedicated to the Russia-DPRK Treaty and the security situation in Northeast Asia"
        synopsis = {
            "scheduled": f"The Valdai Club will host {what} in Moscow on November 27, 2024, at 11:00 Moscow Time "
                         "(GMT+3).",
            "postponed": f"The Valdai Club has postponed {what} in Moscow; the new date will be announced.",
            "cancelled": f"The Valdai Club has cancelled {what} in Moscow, planned for November 27, 2024.",
        }[status]
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
                 "address": {"@type": "PostalAddress", "streetAddress": "Tsvetnoy boulevard 16/1",
                             "addressLocality": "Moscow", "postalCode": "127051", "addressCountry": "RU"}},
                # Two days before, the stream links are held back: the page they will appear on.
                {"@type": "VirtualLocation", "url": page_url},
            ],
            # The organisation's own site, from [organisation] url (not the host of the event's page).
            "organizer": {"@type": "Organization", "name": "Valdai Discussion Club", "url": "https://valdaiclub.com"},
            "performer": [{"@type": "Person", "name": name, "jobTitle": position} for name, position in speakers] + [
                {"@type": "Person", "name": "Ivan Timofeev", "jobTitle": "Programme Director of the Valdai Discussion "
                 "Club", "description": "Moderator"}],
            "image": data["image"],
            "inLanguage": ["ru", "en"],
            "url": page_url,
        }
        assert len(data["performer"]) == 7  # six speakers and the moderator
        # The card the link shows exists, at the size it claims; and one image per ratio Google asks for.
        sizes = []
        for url in [card, *data["image"]]:
            assert url.startswith(f"{PUBLIC}/events/{EVENT_ID}/card.png?lang=en&size=")
            image = await http.get(url.removeprefix(PUBLIC))
            assert image.status_code == 200 and image.headers["content-type"] == "image/png"
            sizes.append(Image.open(io.BytesIO(image.content)).size)
        assert sizes == [(1200, 630), (1280, 720), (1200, 900), (1200, 1200)]  # og; 16:9, 4:3, 1:1, all >= 1200 wide


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
    assert description == ("Клуб «Валдай» проведёт экспертную дискуссию, посвящённую договору России и КНДР и "
                           "ситуации с безопасностью в Северо-Восточной Азии, 27 ноября 2024 г. в 11:00 по "
                           "московскому времени в Москве.")
    assert data["name"] == "Клуб «Валдай» обсудит договор России и КНДР"
    assert data["performer"][0]["name"] == "Дмитрий Кику"
    assert data["location"][0]["address"]["streetAddress"] == "Цветной бульвар, 16/1"
    assert "Среда, 27 ноября 2024\u202fг., 11:00–13:00" in page  # the year, in Russian order (CLDR: a narrow space)
    assert props["og:site_name"] == "Международный дискуссионный клуб «Валдай»"
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


# -- a cancelled, postponed or moved event -----------------------------------------------------------


def _first_in_article(page: str) -> lxml.html.HtmlElement:
    article = lxml.html.fromstring(page).find_class("event-page")[0]
    return article[0]


@pytest.mark.parametrize(("status", "lang", "words"), [
    ("cancelled", "en", "Cancelled: this event will not take place."),
    ("cancelled", "ru", "Отменено: мероприятие не состоится."),
    ("postponed", "en", "Postponed: the new date will be announced."),
    ("postponed", "ru", "Перенесено: новая дата будет объявлена дополнительно."),
])
async def test_a_cancelled_or_postponed_event_says_so_first(make_site: SiteFactory, web_env: Path, status: str,
                                                           lang: str, words: str) -> None:
    set_status(web_env, status)
    site = make_site()
    async with client_for(site) as http:
        page = (await http.get(f"/events/{EVENT_ID}", params={"lang": lang})).text
    banner = _first_in_article(page)
    assert banner.get("role") == "status" and banner.text_content().strip() == words
    # Nothing promises a broadcast that will not come, and no countdown runs.
    assert 'id="live"' not in page and "Links to the live broadcast" not in page and "data-countdown" not in page


async def test_a_moved_event_says_its_new_date_and_tells_search_engines(public_url: str, make_site: SiteFactory,
                                                                       web_env: Path) -> None:
    path = web_env / "config" / "events" / "russia-dprk-treaty.yaml"
    path.write_text(path.read_text().replace("start: 2024-11-27 11:00", "start: 2024-11-27 11:00\n"
                                                                         "previous_start: 2024-11-20 15:00"))
    site = make_site()
    async with client_for(site) as http:
        page = (await http.get(f"/events/{EVENT_ID}")).text
        russian = (await http.get(f"/events/{EVENT_ID}", params={"lang": "ru"})).text
    assert _first_in_article(page).text_content().strip() == (
        "New date: Wednesday, November 27, 2024, 11:00–13:00 Moscow Time (GMT+3). It was to start November 20, 2024, "
        "at 15:00 Moscow Time (GMT+3).")
    assert "Прежде было назначено на 20 ноября 2024\u202fг. в 15:00 по московскому времени." in \
        _first_in_article(russian).text_content()
    _, data = metadata(page)
    assert data["eventStatus"] == SCHEMA + "EventRescheduled"
    assert data["previousStartDate"] == "2024-11-20T15:00:00+03:00"
    assert data["startDate"] == "2024-11-27T11:00:00+03:00"


async def test_the_card_of_a_cancelled_event_says_so(make_site: SiteFactory, web_env: Path) -> None:
    from bot.images import CardStore

    set_status(web_env, "cancelled")
    site = make_site()
    event = site.store.event(EVENT_ID)
    assert event is not None
    cards = CardStore(site.config.settings)
    assert cards.content(event, "en").status == "Cancelled" and cards.content(event, "ru").status == "Отменено"
    moved = event.model_validate({**event.model_dump(), "status": "scheduled",
                                  "previous_start": event.start - timedelta(days=7)})
    assert cards.content(moved, "en").status == "New date"


# -- times a reader does not have to convert ---------------------------------------------------------


async def test_the_pages_offer_the_calendar_as_a_webcal_subscription_in_their_language(
    public_url: str, site: Site,
) -> None:
    async with client_for(site) as http:
        page = (await http.get(f"/events/{EVENT_ID}", params={"lang": "ru"})).text
        listing = (await http.get("/events", params={"lang": "ru"})).text
    link = '<a href="webcal://events.valdaiclub.com/feeds/events.ics?lang=ru">Подписаться на календарь</a>'
    assert link in page and link in listing


async def test_without_public_url_the_subscription_is_the_feeds_own_link(client: httpx.AsyncClient) -> None:
    page = (await client.get(f"/events/{EVENT_ID}")).text
    assert '<a href="/feeds/events.ics?lang=en">Subscribe to the calendar</a>' in page  # webcal: is never relative


async def test_an_event_elsewhere_gives_moscow_time_on_the_russian_page_and_the_readers_own_in_the_browser(
    make_site: SiteFactory, web_env: Path,
) -> None:
    path = web_env / "config" / "events" / "russia-dprk-treaty.yaml"
    text = path.read_text().replace("timezone: Europe/Moscow", "timezone: Asia/Vladivostok")
    path.write_text(text.replace("start: 2024-11-27 11:00", "start: 2024-11-27 08:30"))
    site = make_site()
    async with client_for(site) as http:
        page = (await http.get(f"/events/{EVENT_ID}", params={"lang": "ru"})).text
        english = (await http.get(f"/events/{EVENT_ID}")).text
    facts = lxml.html.fromstring(page).xpath("//dl[@class='facts']/dd")[0]
    assert facts.text == "Среда, 27 ноября 2024\u202fг., 8:30–13:00 по местному времени (1:30 мск)"
    # The reader's own time is the browser's to work out (hidden until then: the page is right without it).
    mine = facts.find_class("local-time")[0]
    assert mine.get("hidden") is not None and mine.get("data-offset") == "600"
    assert mine.get("data-start") == "2024-11-26T22:30:00+00:00"
    assert "Wednesday, November 27, 2024, 08:30–13:00 Vladivostok Time (GMT+10)" in english


# -- Google's Event structured data, as extruct reads it ---------------------------------------------

# developers.google.com/search/docs/appearance/structured-data/event: what an Event must have, and what it should.
REQUIRED = ("name", "startDate", "location")
RECOMMENDED = ("description", "endDate", "eventStatus", "eventAttendanceMode", "image", "offers", "organizer",
               "performer", "previousStartDate")


async def test_the_reference_events_page_has_what_search_engines_use(public_url: str, site: Site) -> None:
    async with client_for(site) as http:
        page = (await http.get(f"/events/{EVENT_ID}")).text
    [data] = extruct.extract(page, base_url=PUBLIC, syntaxes=["json-ld"])["json-ld"]
    assert all(data.get(key) for key in REQUIRED)
    # Every recommended property but the ticket offers (the event is free, by accreditation) and previousStartDate
    # (it has not moved).
    assert [key for key in RECOMMENDED if key not in data] == ["offers", "previousStartDate"]
    # A description that names the event and its date, not the description's first sentence.
    assert "expert discussion dedicated to the Russia-DPRK Treaty" in data["description"]
    assert "November 27, 2024" in data["description"]
    place, virtual = data["location"]
    assert place["@type"] == "Place" and place["address"]["@type"] == "PostalAddress"
    assert {"streetAddress", "addressLocality", "addressCountry"} <= set(place["address"])
    assert virtual["@type"] == "VirtualLocation" and virtual["url"]
    assert data["eventAttendanceMode"] == SCHEMA + "MixedEventAttendanceMode"  # in the hall and on the stream
    assert len(data["performer"]) == 7 and all(p["@type"] == "Person" for p in data["performer"])
    assert data["organizer"]["url"] == "https://valdaiclub.com"
    ratios = set()
    for url in data["image"]:
        width, height = Image.open(io.BytesIO((await site_get(site, url)).content)).size
        assert width >= 1200
        ratios.add(round(width / height, 2))
    assert ratios == {round(16 / 9, 2), round(4 / 3, 2), 1.0}


async def test_the_russian_event_data_names_the_russian_site(public_url: str, site: Site) -> None:
    async with client_for(site) as http:
        page = (await http.get(f"/events/{EVENT_ID}", params={"lang": "ru"})).text
    [data] = extruct.extract(page, base_url=PUBLIC, syntaxes=["json-ld"])["json-ld"]
    assert data["organizer"] == {"@type": "Organization", "name": "Международный дискуссионный клуб «Валдай»",
                                 "url": "https://ru.valdaiclub.com"}
    assert data["location"][0]["address"]["addressLocality"] == "Москва"
    assert data["performer"][-1]["description"] == "Модератор"


async def test_an_event_without_a_stream_is_offline_only(public_url: str, make_site: SiteFactory,
                                                         web_env: Path) -> None:
    path = web_env / "config" / "events" / "russia-dprk-treaty.yaml"
    text = path.read_text()
    start, end = text.index("\nlive:\n"), text.index("\nreport_title:")
    path.write_text(text[:start] + text[end:])
    site = make_site()
    async with client_for(site) as http:
        _, data = metadata((await http.get(f"/events/{EVENT_ID}")).text)
    assert data["eventAttendanceMode"] == SCHEMA + "OfflineEventAttendanceMode"
    assert [place["@type"] for place in data["location"]] == ["Place"]


async def site_get(site: Site, url: str) -> httpx.Response:
    async with client_for(site) as http:
        return await http.get(url.removeprefix(PUBLIC))
