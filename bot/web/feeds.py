"""Feeds: the Dzen RSS file the Dzen adapter writes, calendar (.ics) feeds, and a plain RSS feed of announcements."""

from __future__ import annotations

import asyncio
import hashlib
import html
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.adapters.dzen import parse_feed, render_feed
from bot.calendar import calendar_ics, event_ics, ics_filename
from bot.config.settings import DzenTarget
from bot.domain import Event, EventStatus, Platform, PostKind
from bot.errors import PermanentError
from bot.i18n import gettext
from bot.links import absolute, event_path, href, path
from bot.reach import is_robot
from bot.rendering.context import view
from bot.summaries import synopsis, when_with_year
from bot.web.public import LANGUAGES
from bot.web.state import Web, web_of

RSS_TYPE = "application/rss+xml; charset=utf-8"
CALENDAR_REFRESH = timedelta(hours=1)  # how often a subscribed calendar app reads the feed again

ICS_TYPE = "text/calendar; charset=utf-8"


# -- Dzen ---------------------------------------------------------------------------------------------


def _dzen_targets(web: Web) -> dict[str, DzenTarget]:
    # Only the feed route has a feed; a telegram-sync target publishes through its Telegram channel.
    return {key: target for key, target in web.settings.targets_of(Platform.DZEN).items() if target.route == "rss"}


def _dzen_target(web: Web, name: str | None) -> DzenTarget:
    targets = _dzen_targets(web)
    target = next(iter(targets.values()), None) if name is None else targets.get(name)
    if target is None:
        raise HTTPException(404, "no Dzen feed is configured" if name is None else f"no Dzen target {name!r}")
    return target


def _read(target: DzenTarget) -> bytes:
    """The feed file as the Dzen adapter last wrote it (checked to be a feed), or an empty feed before the first."""
    try:
        data = target.feed_path.read_bytes()
    except FileNotFoundError:
        return render_feed([], target)
    parse_feed(data, str(target.feed_path))
    return data


async def _serve_dzen(request: Request, name: str | None) -> Response:
    target = _dzen_target(web_of(request), name)
    try:
        data = await asyncio.to_thread(_read, target)
    except PermanentError as exc:
        raise HTTPException(503, str(exc)) from None
    except OSError as exc:
        raise HTTPException(503, f"cannot read the Dzen feed: {exc.strerror}") from None
    etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(data, media_type=RSS_TYPE, headers={"ETag": etag, "Cache-Control": "no-cache"})


async def dzen_feed(request: Request) -> Response:
    return await _serve_dzen(request, None)


async def dzen_target_feed(request: Request) -> Response:
    name = request.path_params["target"]
    if name == next(iter(_dzen_targets(web_of(request))), None):
        # The first feed's address is /feeds/dzen.xml, which its atom:link rel=self names: one address per feed.
        return RedirectResponse("/feeds/dzen.xml", status_code=301)
    return await _serve_dzen(request, name)


# -- calendars ----------------------------------------------------------------------------------------


def _lang(web: Web, request: Request) -> str:
    asked = request.query_params.get("lang", "")
    return asked if asked in LANGUAGES else web.settings.branding.lang


async def events_calendar(request: Request) -> Response:
    web = web_of(request)
    asked = request.query_params.get("lang")
    lang = asked if asked in LANGUAGES else None
    events = await web.queries.public_events()
    data = calendar_ics(events, web.settings.web, name=web.site_name(lang or web.settings.branding.lang),
                        now=web.clock(), lang=lang, refresh=CALENDAR_REFRESH)
    return Response(data, media_type=ICS_TYPE)


async def event_calendar(request: Request) -> Response:
    web = web_of(request)
    event = await web.queries.public_event(request.path_params["event_id"])
    if event is None:
        raise HTTPException(404, "no such event")
    asked = request.query_params.get("lang", "")
    data = event_ics(event, web.settings.web, asked if asked in LANGUAGES else event.lang, now=web.clock())
    if not is_robot(request.headers.get("user-agent")):  # a calendar download, for the reach report
        await web.operations.reach.count(event.id, "calendar", "web")
    return Response(data, media_type=ICS_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{ics_filename(event)}"'})


# -- plain RSS ----------------------------------------------------------------------------------------


def _announced_at(web: Web, event: Event) -> datetime:
    """When the campaign announces the event (the announcement step's due time; the start if there is none)."""
    steps = [step for step in web.config.campaign.steps if step.kind is PostKind.ANNOUNCEMENT]
    return min((step.due(event) for step in steps), default=event.start).astimezone(UTC)


def _add(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, tag, attrs)
    node.text = text
    return node


async def announcements_feed(request: Request) -> Response:
    """One item per announced event, newest first: an event appears once its announcement is due."""
    web = web_of(request)
    settings = web.settings.web
    lang = _lang(web, request)
    now = web.clock()
    announced = [(_announced_at(web, e), e) for e in await web.queries.public_events()]
    items = sorted(((when, e) for when, e in announced if when <= now), key=lambda pair: pair[0], reverse=True)
    rss = ET.Element("rss", {"version": "2.0", "xmlns:atom": "http://www.w3.org/2005/Atom"})
    channel = ET.SubElement(rss, "channel")
    _add(channel, "title", web.site_name(lang))
    # Absolute links only from public_url; without it, relative ones (a reader resolves them against the feed's
    # address), never the Host header a request happened to carry.
    _add(channel, "link", href(settings, "/events"))
    _add(channel, "description", gettext("Announcements of %(site)s", lang) % {"site": web.site_name(lang)})
    _add(channel, "language", lang)
    own = path("/feeds/events.rss", lang=request.query_params.get("lang") and lang)
    self_link = absolute(settings, own)
    if self_link:
        ET.SubElement(channel, "atom:link", href=self_link, rel="self", type="application/rss+xml")
    for when, event in items:
        v = view(event, lang)
        page = href(settings, event_path(event.id, None if lang == event.lang else lang))
        node = ET.SubElement(channel, "item")
        title = v.title if event.status is EventStatus.SCHEDULED else f"[{event.status.value}] {v.title}"
        _add(node, "title", title)
        _add(node, "link", page)
        _add(node, "guid", page, isPermaLink="true")
        _add(node, "pubDate", format_datetime(when, usegmt=True))
        summary = [when_with_year(event, lang), f"{v.venue}, {v.address}", synopsis(event, lang)]
        # RSS readers render a description as HTML: the event's text goes in as escaped text, never as markup.
        _add(node, "description", html.escape("\n\n".join(line for line in summary if line), quote=False))
    ET.indent(rss)
    data = ET.tostring(rss, encoding="utf-8", xml_declaration=True) + b"\n"
    return Response(data, media_type=RSS_TYPE)


routes = [
    Route("/feeds/dzen.xml", dzen_feed, methods=["GET"], name="dzen_feed"),
    Route("/feeds/dzen/{target}.xml", dzen_target_feed, methods=["GET"], name="dzen_target_feed"),
    Route("/feeds/events.ics", events_calendar, methods=["GET"], name="events_calendar"),
    Route("/events/{event_id}.ics", event_calendar, methods=["GET"], name="event_calendar"),
    Route("/feeds/events.rss", announcements_feed, methods=["GET"], name="announcements_feed"),
]
