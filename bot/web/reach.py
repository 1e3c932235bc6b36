"""The reach report's pages (the dashboard's report of an event, its CSV and its printable page) and the /go/ links
that count clicks on the way to where they say they lead."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.links import event_links, same_link
from bot.reach import is_robot
from bot.web.state import web_of


async def go(request: Request) -> Response:
    """`/go/<event>/<target>/<step>/<url>`: counts the click (not a crawler's), then sends the reader on to `url`, which
    must be one of the event's own links (the tail says where it leads; nothing else is redirected to)."""
    web = web_of(request)
    event = web.store.event(request.path_params["event_id"])
    target, step = request.path_params["target"], request.path_params["step"]
    given = request.path_params["url"] + (f"?{request.url.query}" if request.url.query else "")
    if event is None or target not in web.settings.targets:
        raise HTTPException(404, "no such event or target")
    url = next((link for link in sorted(event_links(event)) if same_link(given, link)), None)
    if url is None:
        raise HTTPException(404, "not a link of this event")
    if not is_robot(request.headers.get("user-agent")):
        await web.operations.reach.count(event.id, "click", f"{target} {step} {url}")
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"})


routes = [
    Route("/go/{event_id}/{target}/{step}/{url:path}", go, methods=["GET"], name="go"),
]
