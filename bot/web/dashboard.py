"""The organiser's dashboard: events at a glance, each event's timeline with actions, and platform previews."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.accounts import Role
from bot.domain import Event, PostState, pick
from bot.storage.tables import PlannedPostRow
from bot.web import queries
from bot.web.auth import csrf_token, flash, requires, take_flashes
from bot.web.previews import event_previews
from bot.web.state import Web, web_of

PENDING = frozenset({PostState.PLANNED.value, PostState.RETRYING.value, PostState.WAITING.value})
TROUBLE = frozenset({PostState.FAILED.value, PostState.UNKNOWN.value})
# Which action a post in each state allows (the Claims methods behind them enforce the same).
CAN_PUBLISH = frozenset({PostState.PLANNED.value, PostState.RETRYING.value, PostState.FAILED.value,
                         PostState.UNKNOWN.value, PostState.SKIPPED.value})
CAN_RETRY = frozenset({PostState.FAILED.value, PostState.UNKNOWN.value, PostState.SKIPPED.value,
                       PostState.RETRYING.value})
CAN_SKIP = frozenset({PostState.PLANNED.value, PostState.WAITING.value, PostState.RETRYING.value,
                      PostState.FAILED.value, PostState.UNKNOWN.value})


@dataclass(frozen=True, kw_only=True)
class EventSummary:
    event: Event
    title: str
    next_post: PlannedPostRow | None
    failures: tuple[PlannedPostRow, ...]
    sent: int
    total: int


def _title(event: Event) -> str:
    return pick(event.title, event.lang, event.lang)


def _when(post: PlannedPostRow) -> datetime:
    return post.next_attempt_at or post.due_at


def _page(request: Request, name: str, context: dict[str, object], status: int = 200) -> Response:
    web = web_of(request)
    context = {"title": web.site_title, "csrf": csrf_token(request), "flashes": take_flashes(request), **context}
    response = web.templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


@requires(Role.VIEWER)
async def index(request: Request) -> Response:
    web = web_of(request)
    posts = web.store.posts()
    summaries = []
    for event in web.store.events():
        mine = [p for p in posts if p.event_id == event.id]
        pending = sorted((p for p in mine if p.state in PENDING), key=_when)
        summaries.append(EventSummary(
            event=event,
            title=_title(event),
            next_post=pending[0] if pending else None,
            failures=tuple(p for p in mine if p.state in TROUBLE),
            sent=sum(p.state == PostState.SENT.value for p in mine),
            total=len(mine),
        ))
    return _page(request, "admin_index.html", {
        "summaries": summaries,
        "subscribers": queries.subscriber_counts(web.store.sessions),
        "deliveries": web.store.deliveries(limit=25),
        "events_by_id": {s.event.id: s.event for s in summaries},
        "scheduler_running": web.dispatcher.running,
        "schedules": web.schedules,
        "now": web.clock(),
    })


@requires(Role.VIEWER)
async def event_page(request: Request) -> Response:
    web = web_of(request)
    event = web.store.event(request.path_params["event_id"])
    if event is None:
        raise HTTPException(404, "no such event")
    return _page(request, "admin_event.html", {
        "event": event,
        "event_title": _title(event),
        "posts": web.store.posts(event.id),
        "deliveries": web.store.deliveries(event.id, limit=50),
        "groups": event_previews(web.config, web.renderer, event),
        "can_publish": CAN_PUBLISH,
        "can_retry": CAN_RETRY,
        "can_skip": CAN_SKIP,
        "now": web.clock(),
    })


def _post(web: Web, request: Request) -> PlannedPostRow:
    post = queries.planned_post(web.store.sessions, int(request.path_params["post_id"]))
    if post is None:
        raise HTTPException(404, "no such planned post")
    return post


def _back(post: PlannedPostRow) -> Response:
    return RedirectResponse(f"/admin/events/{post.event_id}#post-{post.id}", status_code=303)


def _what(post: PlannedPostRow) -> str:
    return f"#{post.id} {post.step_id} on {post.target}"


@requires(Role.EDITOR)
async def publish_now(request: Request) -> Response:
    web = web_of(request)
    post = _post(web, request)
    if post.state not in CAN_PUBLISH:
        flash(request, "error", f"{_what(post)} was not sent: it is {post.state}.")
        return _back(post)
    if post.state in (PostState.FAILED.value, PostState.UNKNOWN.value, PostState.SKIPPED.value):
        web.claims.retry(post.id, web.clock())  # back to planned, attempts counted afresh
    outcome = await web.dispatcher.publish_now(post.id)
    if outcome is None:
        now = queries.planned_post(web.store.sessions, post.id)
        flash(request, "error", f"{_what(post)} was not sent: it is {now.state if now else 'gone'}.")
    elif outcome.receipt is not None:
        flash(request, "ok", f"{_what(post)} published: {outcome.receipt.link or outcome.receipt.post_id}")
    else:
        flash(request, "error", f"{_what(post)} failed: {type(outcome.error).__name__}: {outcome.error}")
    return _back(post)


@requires(Role.EDITOR)
async def retry(request: Request) -> Response:
    web = web_of(request)
    post = _post(web, request)
    # Claims.retry hands back a post it did not change as it is (a planned post stays planned): check first.
    result = web.claims.retry(post.id, web.clock()) if post.state in CAN_RETRY else None
    if result is None or result.state != PostState.PLANNED.value:
        flash(request, "error", f"{_what(post)} is {post.state}: only failed, skipped, unknown or retrying posts "
                                "are retried.")
        return _back(post)
    if web.dispatcher.running:
        await web.dispatcher.dispatch()
        flash(request, "ok", f"{_what(post)} is being sent again now.")
    else:
        flash(request, "ok", f"{_what(post)} is planned again; the scheduler (`announce-bot run`) sends it at its "
                             f"next sweep, or use “publish now”.")
    return _back(post)


@requires(Role.EDITOR)
async def skip(request: Request) -> Response:
    web = web_of(request)
    post = _post(web, request)
    result = web.claims.skip(post.id, "skipped by the organiser")
    if result is None or result.state != PostState.SKIPPED.value or post.state == PostState.SKIPPED.value:
        flash(request, "error", f"{_what(post)} is {post.state}: it cannot be skipped.")
    else:
        flash(request, "ok", f"{_what(post)} skipped: it will not be sent.")
    return _back(post)


routes = [
    Route("/admin", index, methods=["GET"], name="admin"),
    Route("/admin/events/{event_id}", event_page, methods=["GET"], name="admin_event"),
    Route("/admin/posts/{post_id:int}/publish", publish_now, methods=["POST"], name="publish_now"),
    Route("/admin/posts/{post_id:int}/retry", retry, methods=["POST"], name="retry"),
    Route("/admin/posts/{post_id:int}/skip", skip, methods=["POST"], name="skip"),
]
