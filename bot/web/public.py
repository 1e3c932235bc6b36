"""Public pages for the organisation's website: the events list and each event's page (no login)."""

from __future__ import annotations

from datetime import datetime, timedelta

from babel.dates import format_timedelta
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.domain import Event, EventStatus, Text
from bot.rendering.context import view
from bot.web.state import web_of

LIVE_EARLY = timedelta(minutes=15)  # the broadcast links show this long before the start

# The few words of the public pages, per language (English for any other).
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "events": "Events", "upcoming": "Upcoming events", "past": "Past events", "none": "None yet.",
        "speakers": "Speakers", "moderator": "Moderator", "venue": "Venue", "when": "When",
        "languages": "Working languages", "media": "Information for the media", "form": "Accreditation form",
        "phone": "Questions", "watch": "Watch the broadcast", "live": "Live now", "ended": "The event has ended.",
        "starts": "Starts", "links_later": "Links to the live broadcast appear here when it starts.",
        "calendar": "Add to calendar", "more": "Event page", "report": "Report", "cancelled": "Cancelled",
        "postponed": "Postponed", "feeds": "Feeds",
    },
    "ru": {
        "events": "Мероприятия", "upcoming": "Предстоящие мероприятия", "past": "Прошедшие мероприятия",
        "none": "Пока нет.", "speakers": "Спикеры", "moderator": "Модератор", "venue": "Место",
        "when": "Когда", "languages": "Рабочие языки", "media": "Информация для СМИ",
        "form": "Форма аккредитации", "phone": "Вопросы", "watch": "Смотрите трансляцию", "live": "Сейчас в эфире",
        "ended": "Мероприятие завершилось.", "starts": "Начало",
        "links_later": "Ссылки на трансляцию появятся здесь, когда она начнётся.", "calendar": "В календарь",
        "more": "Страница мероприятия", "report": "Итоги", "cancelled": "Отменено", "postponed": "Перенесено",
        "feeds": "Ленты",
    },
}


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
    return asked if asked in WORDS else "en"


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
    events = web.store.events()
    upcoming = [e for e in events if e.end > now]
    past = sorted((e for e in events if e.end <= now), key=lambda e: e.start, reverse=True)
    return web.templates.TemplateResponse(request, "public_events.html", {
        "title": web.site_title,
        "lang": lang,
        "words": WORDS.get(lang, WORDS["en"]),
        "upcoming": [(e, view(e, e.lang if lang not in languages(e) else lang), phase(e, now)) for e in upcoming],
        "past": [(e, view(e, e.lang if lang not in languages(e) else lang), phase(e, now)) for e in past],
    })


async def event_page(request: Request) -> Response:
    web = web_of(request)
    event = web.store.event(request.path_params["event_id"])
    if event is None:
        raise HTTPException(404, "no such event")
    now = web.clock()
    lang = _lang(request, event)
    state = phase(event, now)
    until = format_timedelta(event.start - now, add_direction=True, locale=lang) if now < event.start else ""
    return web.templates.TemplateResponse(request, "public_event.html", {
        "title": web.site_title,
        "lang": lang,
        "langs": languages(event),
        "words": WORDS.get(lang, WORDS["en"]),
        "event": event,
        "v": view(event, lang),
        "phase": state,
        "until": until,
        "show_live": state in ("live", "ended"),
        "base_url": web.base_url(request),
    })


routes = [
    Route("/", home, methods=["GET"], name="home"),
    Route("/events", events_page, methods=["GET"], name="events"),
    Route("/events/{event_id}", event_page, methods=["GET"], name="event"),
]
