"""Public pages for the organisation's website: the events list and each event's page (no login)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from babel.dates import format_timedelta
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from bot import i18n
from bot.domain import Event, EventStatus, Text
from bot.images import CardSize, CardStore
from bot.links import absolute, href, path
from bot.reach import is_robot
from bot.rendering.context import view
from bot.summaries import dated, when_with_year
from bot.web.linkcards import page_meta
from bot.web.state import Web, web_of

LIVE_EARLY = timedelta(minutes=15)  # the broadcast links show this long before the start

LANGUAGES = i18n.languages()  # the languages the pages and feeds are written in (those with a catalog)


def subscription(web: Web, lang: str) -> str:
    """The calendar feed in `lang` as a subscription: webcal:// (calendar apps subscribe rather than import) when
    the app's public address is known, else its relative http link (webcal: cannot be relative)."""
    own = path("/feeds/events.ics", lang=lang)
    full = absolute(web.settings.web, own)
    return "webcal" + full[full.index(":"):] if full else own


def languages(event: Event) -> list[str]:
    """The languages an event's texts are written in, its own first."""
    found = [event.lang]
    texts: list[Text | None] = [event.title, event.topic, event.description]
    for text in texts:
        if isinstance(text, dict):
            found += [lang for lang in text if lang not in found]
    return found


def _lang(request: Request, event: Event | None) -> str:
    asked = request.query_params.get("lang", "")
    if event is not None:
        return asked if asked in languages(event) else event.lang
    return asked if asked in LANGUAGES else web_of(request).settings.branding.lang


def phase(event: Event, now: datetime) -> str:
    """upcoming, live or ended (cancelled and postponed events are their status)."""
    if event.status is not EventStatus.SCHEDULED:
        return event.status.value
    if now >= event.end:
        return "ended"
    if now >= event.start - LIVE_EARLY:
        return "live"
    return "upcoming"


async def home(request: Request) -> Response:
    return RedirectResponse("/events", status_code=303)


async def events_page(request: Request) -> Response:
    web = web_of(request)
    now = web.clock()
    lang = _lang(request, None)
    events = await web.queries.public_events()
    upcoming = [e for e in events if e.end > now]
    past = sorted((e for e in events if e.end <= now), key=lambda e: e.start, reverse=True)

    def shown(event: Event) -> tuple[Event, object, str, str]:
        own = event.lang if lang not in languages(event) else lang
        return event, view(event, own), phase(event, now), when_with_year(event, own)

    return web.templates.TemplateResponse(request, "public_events.html", {
        "title": web.site_name(lang),
        "lang": lang,
        "canonical": href(web.settings.web, path("/events", lang=None if lang == web.settings.branding.lang else lang)),
        "subscribe": subscription(web, lang),
        "upcoming": [shown(e) for e in upcoming],
        "past": [shown(e) for e in past],
    })


PAGES_KEPT = 256  # event pages kept rendered (per event version, language, phase and countdown)


async def event_page(request: Request) -> Response:
    web = web_of(request)
    event = await web.queries.public_event(request.path_params["event_id"])
    if event is None:
        raise HTTPException(404, "no such event")
    now = web.clock()
    lang = _lang(request, event)
    if not is_robot(request.headers.get("user-agent")):  # a page view, for the reach report
        await web.operations.reach.count(event.id, "page_view", lang)
    state = phase(event, now)
    until = format_timedelta(event.start - now, add_direction=True, locale=lang) if now < event.start else ""
    # Past the accreditation deadline the page no longer invites accreditation: part of what the page is made of.
    accrediting = event.accreditation_open(now)
    # The page is a function of these alone: made once, not on every request (the store hands out one Event
    # object per stored version, so `is` tells a changed event; a reload gives a new configuration object).
    pages: dict[tuple[str, str], tuple[object, object, str, str, bool, bytes]] = request.app.state.pages
    hit = pages.get((event.id, lang))
    if hit is not None and hit[0] is event and hit[1] is web.config and hit[2:5] == (state, until, accrediting):
        return Response(hit[5], media_type="text/html; charset=utf-8")
    response = _render_event(request, event, lang, state, until)
    if response.status_code == 200:
        if len(pages) >= PAGES_KEPT:
            pages.clear()
        pages[(event.id, lang)] = (event, web.config, state, until, accrediting, bytes(response.body))
    return response


def notice(event: Event, lang: str) -> tuple[str, str] | None:
    """What the top of a cancelled, postponed or moved event's page says first: (its kind, the words)."""
    _ = i18n.translations(lang).gettext
    if event.status is EventStatus.CANCELLED:
        return "cancelled", _("Cancelled: this event will not take place.")
    if event.status is EventStatus.POSTPONED:
        return "postponed", _("Postponed: the new date will be announced.")
    if event.moved and event.previous_start is not None:
        return "moved", _("New date: %(when)s. It was to start %(before)s.") % {
            "when": when_with_year(event, lang), "before": dated(event.previous_start, lang)}
    return None


def _render_event(request: Request, event: Event, lang: str, state: str, until: str) -> Response:
    web = web_of(request)
    cards = CardStore(web.settings)
    langs = languages(event)
    v = view(event, lang, web.clock())
    return web.templates.TemplateResponse(request, "public_event.html", {
        "title": web.site_name(lang),
        "lang": lang,
        "langs": langs,
        "event": event,
        "v": v,
        "when": when_with_year(event, lang),
        "phase": state,
        "notice": notice(event, lang),
        "subscribe": subscription(web, lang),
        # The reader's own time is computed in the browser (countdown.js) from the start and the event's offset.
        "offset": int((event.start.utcoffset() or timedelta()).total_seconds() // 60),
        "until": until,
        "show_live": state in ("live", "ended"),
        "meta": page_meta(event, lang, langs, web.settings, site_name=web.site_name(lang), cards=cards,
                          live=state in ("live", "ended")),
        # The page shows the cover, else the generated card (a relative link: the page's own site).
        "picture": v.cover or cards.relative_url(event, lang, CardSize.OG),
    })


async def event_card(request: Request) -> Response:
    """The event's generated card as PNG (`?lang=` one of its languages, `?size=` og, telegram, vk, x, dzen)."""
    web = web_of(request)
    event = await web.queries.public_event(request.path_params["event_id"])
    if event is None:
        raise HTTPException(404, "no such event")
    lang = request.query_params.get("lang") or event.lang
    if lang not in languages(event):
        raise HTTPException(404, f"the event has no texts in {lang!r}")
    try:
        size = CardSize(request.query_params.get("size") or CardSize.OG.value)
    except ValueError:
        raise HTTPException(404, f"no card size {request.query_params.get('size')!r}; "
                                 f"sizes: {', '.join(s.value for s in CardSize)}") from None
    cards = CardStore(web.settings)
    try:
        file = await asyncio.to_thread(cards.path, event, lang, size)
    except OSError as exc:
        raise HTTPException(503, f"cannot write the card: {exc.strerror or exc}") from None
    key = file.stem.rsplit("-", 1)[-1]
    # A link carrying the current version may be kept for good; any other is checked again soon.
    fresh = request.query_params.get("v") == key
    cache = "public, max-age=31536000, immutable" if fresh else "public, max-age=300"
    return FileResponse(file, media_type="image/png", headers={"Cache-Control": cache, "ETag": f'"{key}"'})


routes = [
    Route("/", home, methods=["GET"], name="home"),
    Route("/events", events_page, methods=["GET"], name="events"),
    Route("/events/{event_id}", event_page, methods=["GET"], name="event"),
    Route("/events/{event_id}/card.png", event_card, methods=["GET"], name="event_card"),
]
