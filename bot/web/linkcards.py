"""What a shared link to an event page shows: OpenGraph and Twitter card tags, schema.org Event JSON-LD and the
page's canonical and hreflang links; pure, and absolute URLs only from `[web] public_url`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from babel.core import get_global
from markupsafe import Markup

from bot.config.settings import Settings
from bot.domain import Event, EventStatus, Platform, pick
from bot.i18n import gettext
from bot.images import EVENT_DATA_SIZES, CardSize, CardStore
from bot.links import absolute, event_path, href
from bot.rendering.context import PersonView, view
from bot.summaries import synopsis

SCHEMA = "https://schema.org/"
EVENT_STATUS = {
    EventStatus.SCHEDULED: SCHEMA + "EventScheduled",
    EventStatus.POSTPONED: SCHEMA + "EventPostponed",
    EventStatus.CANCELLED: SCHEMA + "EventCancelled",
    EventStatus.DRAFT: SCHEMA + "EventScheduled",  # never on a public page; the dashboard's preview only
}


@dataclass(frozen=True)
class Alternate:
    lang: str  # a language code, or x-default
    href: str


@dataclass(frozen=True)
class PageMeta:
    """The head of an event page: description, canonical, alternates, OpenGraph, Twitter, JSON-LD."""

    description: str
    canonical: str
    alternates: tuple[Alternate, ...]
    og: tuple[tuple[str, str], ...]
    twitter: tuple[tuple[str, str], ...]
    jsonld: Markup
    image: str | None  # the absolute image URL shared links show, if any


def og_locale(lang: str) -> str:
    """OpenGraph's language_TERRITORY form: en -> en_US, ru -> ru_RU (CLDR's likely territory)."""
    likely = str(get_global("likely_subtags").get(lang, lang))
    territory = likely.split("_")[-1]
    return f"{lang}_{territory}" if len(territory) == 2 and territory.isupper() else lang


def page_of(event: Event, lang: str) -> str:
    """The page's own path in `lang`: the event's own language has the plain address."""
    return event_path(event.id, None if lang == event.lang else lang)


def script_json(data: dict[str, Any]) -> Markup:
    """JSON that can sit inside <script>: no '<', '>' or '&' that could end the element or start markup."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Markup(text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e"))


def _site_root(url: str | None) -> str | None:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def postal_address(event: Event, lang: str) -> dict[str, Any]:
    """schema.org PostalAddress of the venue: its parts as given (street, locality, region, postal code, ISO
    country code); a one-line address only is its street address."""
    venue, own = event.venue, event.lang
    if venue.street is None and venue.locality is None:
        return {"@type": "PostalAddress", "streetAddress": view(event, lang).address}
    parts = {
        "streetAddress": pick(venue.street, lang, own),
        "addressLocality": pick(venue.locality, lang, own),
        "addressRegion": pick(venue.region, lang, own),
        "postalCode": venue.postal_code or "",
        "addressCountry": venue.country or "",
    }
    return {"@type": "PostalAddress", **{key: value for key, value in parts.items() if value}}


def _person(person: PersonView, role: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"@type": "Person", "name": person.name}
    if person.position:
        data["jobTitle"] = person.position
    if person.link:
        data["url"] = person.link
    if role:
        data["description"] = role
    return data


def event_jsonld(event: Event, lang: str, *, organisation: str, organisation_url: str | None, page: str | None,
                 images: list[str], live: bool) -> dict[str, Any]:
    """schema.org Event, with what Google's Event guidelines require and recommend: name, startDate, location (a
    Place with a PostalAddress, and a VirtualLocation when it is broadcast), description, endDate, eventStatus
    (previousStartDate after a move), eventAttendanceMode, image (16:9, 4:3, 1:1), organizer, performer. Until
    `live`, the virtual location is the page the stream will appear on: the page holds the links back until then."""
    shown = view(event, lang)
    place: dict[str, Any] = {"@type": "Place", "name": shown.venue, "address": postal_address(event, lang)}
    if shown.map_url:
        place["hasMap"] = shown.map_url
    locations: list[dict[str, Any]] = [place]
    stream = event.live.get("website") or next(iter(event.live.values()), None)
    where = stream if live else (page or event.url)
    if stream and where:
        locations.append({"@type": "VirtualLocation", "url": where})
    organizer: dict[str, Any] = {"@type": "Organization", "name": organisation}
    root = organisation_url or _site_root(event.url)
    if root:
        organizer["url"] = root
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Event",
        "name": shown.title,
        "description": synopsis(event, lang),
        "startDate": event.start.isoformat(),
        "endDate": event.end.isoformat(),
        # Moved to a new date: rescheduled, with the start it had (Google's Event guidelines).
        "eventStatus": SCHEMA + "EventRescheduled" if event.moved else EVENT_STATUS[event.status],
        "eventAttendanceMode": SCHEMA + ("MixedEventAttendanceMode" if stream else "OfflineEventAttendanceMode"),
        "location": locations,
        "organizer": organizer,
        "performer": [_person(person) for person in shown.speakers] + (
            [_person(shown.moderator, gettext("Moderator", lang))] if shown.moderator else []),
        "inLanguage": list(event.languages) or [lang],
    }
    if event.moved and event.previous_start is not None:
        data["previousStartDate"] = event.previous_start.isoformat()
    if images:
        data["image"] = images
    if page:
        data["url"] = page
    return data


def page_meta(event: Event, lang: str, langs: list[str], settings: Settings, *, site_name: str,
              cards: CardStore, live: bool) -> PageMeta:
    """Everything the event page's head says about it in `lang`."""
    web = settings.web
    shown = view(event, lang)
    description = synopsis(event, lang)
    canonical = href(web, page_of(event, lang))
    alternates: tuple[Alternate, ...] = ()
    if len(langs) > 1:
        alternates = (*(Alternate(code, href(web, page_of(event, code))) for code in langs),
                      Alternate("x-default", href(web, page_of(event, event.lang))))
    page = absolute(web, page_of(event, lang))
    card = cards.url(event, lang, CardSize.OG)
    cover = absolute(web, shown.cover) if shown.cover and shown.cover.startswith("/") else shown.cover
    image = cover or card
    og: list[tuple[str, str]] = [
        ("og:type", "website"),
        ("og:site_name", site_name),
        ("og:title", shown.title),
        ("og:description", description),
        ("og:locale", og_locale(lang)),
        *(("og:locale:alternate", og_locale(code)) for code in langs if code != lang),
    ]
    if page:
        og.append(("og:url", page))
    if image:
        og.append(("og:image", image))
        if image == card:
            width, height = CardSize.OG.pixels
            og += [("og:image:type", "image/png"), ("og:image:width", str(width)),
                   ("og:image:height", str(height))]
        og.append(("og:image:alt", shown.title))
    twitter: list[tuple[str, str]] = [
        ("twitter:card", "summary_large_image" if image else "summary"),
        ("twitter:title", shown.title),
        ("twitter:description", description),
    ]
    handle = next((t.username for t in settings.targets_of(Platform.X).values() if t.username), None)
    if handle:
        twitter.append(("twitter:site", f"@{handle.lstrip('@')}"))
    if image:
        twitter += [("twitter:image", image), ("twitter:image:alt", shown.title)]
    # The cover (if any), then the generated card at each ratio search engines ask for (absolute URLs only).
    images = [cover] if cover else []
    images += [url for size in EVENT_DATA_SIZES if (url := cards.url(event, lang, size))]
    jsonld = event_jsonld(event, lang, organisation=site_name, organisation_url=settings.organisation.url_in(lang),
                          page=page, images=images, live=live)
    return PageMeta(description=description, canonical=canonical, alternates=alternates, og=tuple(og),
                    twitter=tuple(twitter), jsonld=script_json(jsonld), image=image)
