"""The organiser's dashboard: events at a glance, each event's timeline with actions, and platform previews."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.accounts import Role
from bot.domain import COMMANDS, Command, Event, PlannedPost, PostState, pick
from bot.operations import ActionResult
from bot.storage import reports as queries
from bot.web.auth import csrf_token, current_user, flash, requires, take_flashes
from bot.web.previews import event_previews
from bot.web.state import web_of

PENDING = frozenset({PostState.PLANNED, PostState.RETRYING, PostState.WAITING})
TROUBLE = frozenset({PostState.FAILED, PostState.UNKNOWN})


@dataclass(frozen=True, kw_only=True)
class EventSummary:
    event: Event
    title: str
    next_post: PlannedPost | None
    failures: tuple[PlannedPost, ...]
    sent: int
    total: int


def _title(event: Event) -> str:
    return pick(event.title, event.lang, event.lang)


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
        pending = sorted((p for p in mine if p.state in PENDING), key=lambda p: p.when)
        summaries.append(EventSummary(
            event=event,
            title=_title(event),
            next_post=pending[0] if pending else None,
            failures=tuple(p for p in mine if p.state in TROUBLE),
            sent=sum(p.state is PostState.SENT for p in mine),
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
        "can_publish": COMMANDS[Command.PUBLISH],
        "can_retry": COMMANDS[Command.RETRY],
        "can_skip": COMMANDS[Command.SKIP],
        "now": web.clock(),
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


def _actor(request: Request) -> str:
    """Who pressed the button, for the delivery log: the signed-in user's name."""
    user = current_user(request)
    return user.name if user is not None else "dashboard"


@requires(Role.EDITOR)
async def publish_now(request: Request) -> Response:
    web = web_of(request)
    return _back(request, await web.operations.publish_post(_post_id(request), actor=_actor(request)))


@requires(Role.EDITOR)
async def retry(request: Request) -> Response:
    web = web_of(request)
    return _back(request, await web.operations.retry(_post_id(request), actor=_actor(request)))


@requires(Role.EDITOR)
async def skip(request: Request) -> Response:
    web = web_of(request)
    return _back(request, await web.operations.skip(_post_id(request), actor=_actor(request)))


routes = [
    Route("/admin", index, methods=["GET"], name="admin"),
    Route("/admin/events/{event_id}", event_page, methods=["GET"], name="admin_event"),
    Route("/admin/posts/{post_id:int}/publish", publish_now, methods=["POST"], name="publish_now"),
    Route("/admin/posts/{post_id:int}/retry", retry, methods=["POST"], name="retry"),
    Route("/admin/posts/{post_id:int}/skip", skip, methods=["POST"], name="skip"),
]
