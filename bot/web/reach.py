"""The reach report's pages (the dashboard's report of an event, its CSV and its printable page) and the /go/ links
that count clicks on the way to where they say they lead."""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.accounts import Role
from bot.links import event_links, same_link
from bot.printable import printable_png
from bot.reach import is_robot
from bot.report import VIEWS, EventReport
from bot.web import charts
from bot.web.auth import flash, requires
from bot.web.dashboard import page, title_of
from bot.web.state import web_of


async def go(request: Request) -> Response:
    """`/go/<event>/<target>/<step>/<url>`: counts the click (not a crawler's), then sends the reader on to `url`, which
    must be one of the event's own links (the tail says where it leads; nothing else is redirected to)."""
    web = web_of(request)
    event = await web.queries.public_event(request.path_params["event_id"])
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


async def _report(request: Request) -> EventReport:
    web = web_of(request)
    report = await web.operations.reach.report(request.path_params["event_id"])
    if report is None:
        raise HTTPException(404, "no such event")
    return report


@requires(Role.VIEWER)
async def report_page(request: Request) -> Response:
    """The event's reach: the headline figures, views over time and a bar per platform, then every post."""
    web = web_of(request)
    report = await _report(request)
    stored = await web.queries.record(report.event_id)
    assert stored is not None
    series = {platform.value: points for platform, points in report.series.items()}
    return page(request, "admin_report.html", {
        "report": report,
        "event": stored.event,
        "event_title": title_of(stored.event),
        "views_are": {platform.value: name for platform, name in VIEWS.items()},
        "line_chart": charts.lines(series, stored.event.timezone, "Views over time, per platform"),
        "bar_chart": charts.bars([(p.platform.value, p.views) for p in report.platforms],
                                 "Views per platform (VK views, X impressions)"),
        "estimates": await asyncio.to_thread(web.operations.reach.estimate, report.event_id),
    })


@requires(Role.VIEWER)
async def report_csv(request: Request) -> Response:
    report = await _report(request)
    return Response(report.csv(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{report.event_id}-reach.csv"', "Cache-Control": "no-store"})


@requires(Role.VIEWER)
async def report_png(request: Request) -> Response:
    """The one-page printable report, in the event's language."""
    report = await _report(request)
    data = await asyncio.to_thread(printable_png, report)
    return Response(data, media_type="image/png", headers={
        "Content-Disposition": f'inline; filename="{report.event_id}-reach.png"', "Cache-Control": "no-store"})


@requires(Role.EDITOR)
async def refresh(request: Request) -> Response:
    """Read the platforms now (within the budget; the page showed what it reads and costs)."""
    web = web_of(request)
    report = await web.operations.reach.report(request.path_params["event_id"], refresh=True)
    if report is None or report.refresh is None:
        raise HTTPException(404, "no such event")
    done = report.refresh
    read = ", ".join(f"{target} {count}" for target, count in done.read.items()) or "nothing"
    message = f"read now: {read}" + (f" (${done.cost})" if done.cost else "")
    flash(request, "error" if done.problems else "ok", "; ".join([message, *done.problems]))
    return RedirectResponse(f"/admin/events/{report.event_id}/report", status_code=303)


routes = [
    Route("/go/{event_id}/{target}/{step}/{url:path}", go, methods=["GET"], name="go"),
    Route("/admin/events/{event_id}/report", report_page, methods=["GET"], name="report"),
    Route("/admin/events/{event_id}/report.csv", report_csv, methods=["GET"], name="report_csv"),
    Route("/admin/events/{event_id}/report.png", report_png, methods=["GET"], name="report_png"),
    Route("/admin/events/{event_id}/report/refresh", refresh, methods=["POST"], name="report_refresh"),
]
