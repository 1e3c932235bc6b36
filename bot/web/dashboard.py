"""The organiser's dashboard: events at a glance, each event's timeline with actions, and platform previews."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.accounts import Role
from bot.domain import (
    COMMANDS,
    Command,
    Event,
    EventOrigin,
    EventStatus,
    PlannedPost,
    Platform,
    PostState,
    StoredEvent,
    pick,
)
from bot.operations import ActionResult
from bot.planning import still_useful
from bot.platforms import SPECS
from bot.rendering.context import view
from bot.streams import WEBSITE
from bot.summaries import synopsis
from bot.web.auth import csrf_token, current_user, flash, requires, take_flashes
from bot.web.previews import event_previews
from bot.web.public import phase as public_phase
from bot.web.state import Web, web_of

PENDING = frozenset({PostState.PLANNED, PostState.RETRYING, PostState.WAITING})
UNSENT = PENDING | {PostState.AWAITING_APPROVAL}
PREVIEW_BUDGET = 10.0  # seconds a page waits for its previews
# Where a stream link is given at go-live, and how the form names each place.
LIVE_FIELDS = ((WEBSITE, "Website"), *((platform.value, SPECS[platform].label) for platform in Platform))
LIVE_NAMES = tuple(name for name, _ in LIVE_FIELDS)
TROUBLE = frozenset({PostState.FAILED, PostState.UNKNOWN})


@dataclass(frozen=True, kw_only=True)
class EventSummary:
    stored: StoredEvent
    title: str
    phase: str  # draft, upcoming, live, past, postponed, cancelled or withdrawn
    next_post: PlannedPost | None
    next_note: str | None  # "overdue", or why it will not go out any more
    failures: tuple[PlannedPost, ...]
    problems: tuple[PlannedPost, ...]  # unsent posts that could not be rendered when planned
    sent: int
    total: int

    @property
    def event(self) -> Event:
        return self.stored.event


def title_of(event: Event) -> str:
    """The event's title in its own language."""
    return pick(event.title, event.lang, event.lang)


def phase_of(stored: StoredEvent, now: datetime) -> str:
    """Where an event stands for the organiser: a draft, withdrawn, or as the public page says (past once over)."""
    if stored.withdrawn is not None:
        return "withdrawn"
    if stored.event.status is EventStatus.DRAFT:
        return "draft"
    shown = public_phase(stored.event, now)
    return "past" if shown == "ended" else shown


def lateness(post: PlannedPost, event: Event, now: datetime) -> str | None:
    """For a post still to go whose time has passed: "overdue" while it is still worth sending, else why the
    dispatcher will skip it (a reminder once the event began, say); None for any other post."""
    if post.state not in (PostState.PLANNED, PostState.RETRYING) or post.when >= now:
        return None
    if post.manual:
        return "overdue"
    reason = still_useful(post.catch_up, event.start, event.end, now)
    return f"too late, it will be skipped: {reason}" if reason else "overdue"


def previews_html(web: Web, event: Event | None, *, editing: bool = False) -> str:
    """The preview groups of an event's posts (none: the editor's note that the form is not an event yet), as
    the event page shows them and the editor's script swaps them in."""
    groups = event_previews(web.config, web.renderer, event) if event is not None else []
    # What a shared link, the calendar and the feeds say of it (bot.summaries.synopsis), in each language posted.
    langs = dict.fromkeys([event.lang, *(t.lang for t in web.settings.targets.values())]) if event else {}
    synopses = [(lang, view(event, lang).title, synopsis(event, lang)) for lang in langs] if event else []
    template = web.templates.env.get_template("_preview_groups.html")
    return template.render(groups=groups, zone=event.timezone if event else "UTC", editing=editing,
                           synopses=synopses)


async def previews_off_loop(web: Web, event: Event | None, *, editing: bool = False) -> str:
    """`previews_html` drawn in a worker thread within PREVIEW_BUDGET seconds: pages, health checks, the chat bot
    and sending go on meanwhile, and a preview that takes too long says so instead of holding the page."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(previews_html, web, event, editing=editing), PREVIEW_BUDGET)
    except TimeoutError:
        return (f'<p class="error previews-late">The previews took longer than {PREVIEW_BUDGET:.0f} s to draw and '
                "were left out; shorten the longest texts, or try again.</p>")


def page(request: Request, name: str, context: dict[str, object], status: int = 200) -> Response:
    web = web_of(request)
    context = {"title": web.site_title, "csrf": csrf_token(request), "flashes": take_flashes(request), **context}
    response = web.templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


@requires(Role.VIEWER)
async def index(request: Request) -> Response:
    web = web_of(request)
    now = web.clock()
    records, posts, counts, subscribers, deliveries = await asyncio.gather(
        web.queries.records(), web.queries.posts(), web.queries.post_counts(), web.queries.subscriber_counts(),
        web.queries.deliveries(limit=25))
    summaries = _summaries(records, posts, counts, now)
    return page(request, "admin_index.html", {
        "summaries": [s for s in summaries if s.phase != "withdrawn"],
        "withdrawn": [s for s in summaries if s.phase == "withdrawn"],
        "subscribers": subscribers,
        "deliveries": deliveries,
        "now": now,
        "scheduler_running": web.dispatcher.running,
        "schedules": web.schedules,
    })


def _summaries(records: list[StoredEvent], posts: list[PlannedPost], counts: dict[str, tuple[int, int]],
               now: datetime) -> list[EventSummary]:
    """Every event at a glance, those with posts that will not go out as planned first."""
    by_event: dict[str, list[PlannedPost]] = {}
    for post in posts:
        by_event.setdefault(post.event_id, []).append(post)
    summaries = []
    for stored in records:
        mine = by_event.get(stored.id, [])
        pending = sorted((p for p in mine if p.state in PENDING), key=lambda p: p.when)
        summaries.append(EventSummary(
            stored=stored,
            title=title_of(stored.event),
            phase=phase_of(stored, now),
            next_post=pending[0] if pending else None,
            next_note=lateness(pending[0], stored.event, now) if pending else None,
            failures=tuple(p for p in mine if p.state in TROUBLE),
            problems=tuple(p for p in mine if p.render_error and p.state in UNSENT),
            sent=counts.get(stored.id, (0, 0))[0],
            total=counts.get(stored.id, (0, 0))[1],
        ))
    summaries.sort(key=lambda s: not (s.failures or s.problems))  # stable: by start within each group
    return summaries


@requires(Role.VIEWER)
async def event_page(request: Request) -> Response:
    web = web_of(request)
    stored = await web.queries.record(request.path_params["event_id"])
    if stored is None:
        raise HTTPException(404, "no such event")
    event, now = stored.event, web.clock()
    posts, deliveries = await asyncio.gather(web.queries.posts(event.id, text=True),
                                             web.queries.deliveries(event.id, limit=50))
    return page(request, "admin_event.html", {
        "stored": stored,
        "event": event,
        "event_title": title_of(event),
        "phase": phase_of(stored, now),
        "editable": stored.origin is EventOrigin.DASHBOARD or stored.withdrawn is not None,
        "posts": posts,
        "texts": {post.id: post.rendering.post().text for post in posts if post.rendering is not None},
        "late": {post.id: note for post in posts if (note := lateness(post, event, now))},
        "deliveries": deliveries,
        "previews": await previews_off_loop(web, event),
        "live_fields": LIVE_FIELDS,
        "can_publish": COMMANDS[Command.PUBLISH],
        "can_retry": COMMANDS[Command.RETRY],
        "can_skip": COMMANDS[Command.SKIP],
        "can_approve": COMMANDS[Command.APPROVE],
        "now": now,
    })


def _post_id(request: Request) -> int:
    post_id: int = request.path_params["post_id"]
    return post_id


def _back(request: Request, result: ActionResult) -> Response:
    """Tell the organiser what happened, and return to the post on its event's timeline."""
    if result.post is None:
        raise HTTPException(404, result.message)
    flash(request, "ok" if result.ok else "error", result.message)
    return RedirectResponse(f"/admin/events/{result.post.event_id}#post-{result.post.id}", status_code=303)


def actor_of(request: Request) -> str:
    """Who pressed the button, for the delivery log: the signed-in user's name."""
    user = current_user(request)
    return user.name if user is not None else "dashboard"


@requires(Role.EDITOR)
async def publish_now(request: Request) -> Response:
    web = web_of(request)
    return _back(request, await web.operations.publish_post(_post_id(request), actor=actor_of(request)))


@requires(Role.EDITOR)
async def retry(request: Request) -> Response:
    web = web_of(request)
    return _back(request, await web.operations.retry(_post_id(request), actor=actor_of(request)))


@requires(Role.EDITOR)
async def skip(request: Request) -> Response:
    web = web_of(request)
    return _back(request, await web.operations.skip(_post_id(request), actor=actor_of(request)))


@requires(Role.APPROVER)
async def approve(request: Request) -> Response:
    web = web_of(request)
    return _back(request, await web.operations.approve(_post_id(request), actor=actor_of(request)))


routes = [
    Route("/admin", index, methods=["GET"], name="admin"),
    Route("/admin/events/{event_id}", event_page, methods=["GET"], name="admin_event"),
    Route("/admin/posts/{post_id:int}/publish", publish_now, methods=["POST"], name="publish_now"),
    Route("/admin/posts/{post_id:int}/retry", retry, methods=["POST"], name="retry"),
    Route("/admin/posts/{post_id:int}/skip", skip, methods=["POST"], name="skip"),
    Route("/admin/posts/{post_id:int}/approve", approve, methods=["POST"], name="approve"),
]
