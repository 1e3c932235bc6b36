"""Feeds: the Dzen RSS file the Dzen adapter writes, calendar (.ics) feeds, and a plain RSS feed of announcements."""

from __future__ import annotations

import asyncio
import hashlib
import html
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import urlsplit

from icalendar import Calendar
from icalendar import Event as CalendarEvent
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.adapters.dzen import parse_feed, render_feed
from bot.config.settings import DzenTarget
from bot.domain import Event, EventStatus, Platform, PostKind
from bot.errors import PermanentError
from bot.rendering.context import view
from bot.web.state import Web, web_of

RSS_TYPE = "application/rss+xml; charset=utf-8"
ICS_TYPE = "text/calendar; charset=utf-8"
_ICS_STATUS = {EventStatus.SCHEDULED: "CONFIRMED", EventStatus.POSTPONED: "TENTATIVE",
               EventStatus.CANCELLED: "CANCELLED"}


# -- Dzen ---------------------------------------------------------------------------------------------


def _dzen_target(web: Web, name: str | None) -> DzenTarget:
    targets: dict[str, DzenTarget] = web.settings.targets_of(Platform.DZEN)
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
    return await _serve_dzen(request, request.path_params["target"])


# -- calendars ----------------------------------------------------------------------------------------


def _calendar(web: Web, events: list[Event], base: str, name: str) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//announce-bot//events//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    host = urlsplit(base).hostname or "localhost"
    stamp = web.clock().astimezone(UTC)
    for event in events:
        v = view(event, event.lang)
        page = f"{base}/events/{event.id}"
        item = CalendarEvent()
        item.add("uid", f"{event.id}@{host}")
        item.add("dtstamp", stamp)
        item.add("dtstart", event.start)  # in the event's own zone (TZID), its VTIMEZONE added below
        item.add("dtend", event.end)
        item.add("summary", v.title)
        lines = [v.lead or f"{v.format} — {v.topic}".strip(" —")]
        if v.speakers:
            lines.append(", ".join(p.name for p in v.speakers))
        lines += [f"{link.label}: {link.url}" for link in v.live]
        lines.append(page)
        item.add("description", "\n\n".join(line for line in lines if line))
        item.add("location", f"{v.venue}, {v.address}")
        item.add("url", page)
        item.add("status", _ICS_STATUS[event.status])
        calendar.add_component(item)
    calendar.add_missing_timezones()
    data: bytes = calendar.to_ical()
    return data


async def events_calendar(request: Request) -> Response:
    web = web_of(request)
    data = _calendar(web, web.store.events(), web.base_url(request), web.site_title)
    return Response(data, media_type=ICS_TYPE)


async def event_calendar(request: Request) -> Response:
    web = web_of(request)
    event = web.store.event(request.path_params["event_id"])
    if event is None:
        raise HTTPException(404, "no such event")
    data = _calendar(web, [event], web.base_url(request), view(event, event.lang).title)
    return Response(data, media_type=ICS_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{event.id}.ics"'})


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
    base = web.base_url(request)
    now = web.clock()
    announced = [(_announced_at(web, e), e) for e in web.store.events()]
    items = sorted(((when, e) for when, e in announced if when <= now), key=lambda pair: pair[0], reverse=True)
    rss = ET.Element("rss", {"version": "2.0", "xmlns:atom": "http://www.w3.org/2005/Atom"})
    channel = ET.SubElement(rss, "channel")
    _add(channel, "title", web.site_title)
    _add(channel, "link", f"{base}/events")
    _add(channel, "description", f"Announcements of {web.site_title}")
    ET.SubElement(channel, "atom:link", href=f"{base}/feeds/events.rss", rel="self", type="application/rss+xml")
    for when, event in items:
        v = view(event, event.lang)
        page = f"{base}/events/{event.id}"
        node = ET.SubElement(channel, "item")
        title = v.title if event.status is EventStatus.SCHEDULED else f"[{event.status.value}] {v.title}"
        _add(node, "title", title)
        _add(node, "link", page)
        _add(node, "guid", page, isPermaLink="true")
        _add(node, "pubDate", format_datetime(when, usegmt=True))
        summary = [v.start.full, f"{v.venue}, {v.address}", v.lead or v.description.split("\n\n")[0]]
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
