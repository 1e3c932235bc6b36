"""The web app: the organiser's dashboard, public event pages, feeds, health and metrics (create_app builds it)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from os import PathLike
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from bot.config.live import LiveConfig
from bot.operations import Operations
from bot.web import auth, dashboard, editor, feeds, health, public, reach
from bot.web.headers import SecurityHeaders
from bot.web.state import STATIC_DIR, Web, page_templates, web_of

SESSION_COOKIE = "announce_bot_session"
STATIC_MAX_AGE = 3600  # seconds a browser or proxy keeps app.css and the scripts before asking again


class CachedStatic(StaticFiles):
    """The app's own CSS and scripts: kept an hour by browsers and proxies, then revalidated with the ETag or
    Last-Modified StaticFiles sends (a 304 when unchanged). The ETag is weak: the same file goes out gzipped
    or not (GZipMiddleware), and the two are equivalent, not byte-identical."""

    def file_response(self, full_path: PathLike[str] | str, stat_result: os.stat_result, scope: Scope,
                      status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["cache-control"] = f"public, max-age={STATIC_MAX_AGE}"
        if (etag := response.headers.get("etag")) and not etag.startswith("W/"):
            response.headers["etag"] = f"W/{etag}"
        return response


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith(("/events", "/admin")) and request.method == "GET":
        web = web_of(request)
        asked = request.query_params.get("lang", "")
        lang = asked if asked in public.LANGUAGES else web.settings.branding.lang
        return web.templates.TemplateResponse(
            request, "error.html", {"title": web.site_name(lang), "lang": lang, "status": exc.status_code,
                                    "detail": exc.detail},
            status_code=exc.status_code,
        )
    return PlainTextResponse(f"{exc.status_code}: {exc.detail}", status_code=exc.status_code)


def create_app(
    live: LiveConfig,
    operations: Operations,
    *,
    schedules: bool = False,
    clock: Callable[[], datetime] | None = None,
    chat_health: Callable[[], Mapping[str, Any]] | None = None,
) -> Starlette:
    """The ASGI app. Every action goes through `operations` (whose dispatcher sends "publish now" as the scheduler
    would); `schedules` says a scheduler runs in this process, so /healthz expects it running. `chat_health` (the
    chat bot's `health()`) adds the chat bot to /healthz's details; `"ok": False` in it makes the status "failing".

    Reads the dashboard's accounts at once: the session signing key (made on first start), and the settings
    password's admin user; ValueError names a setting that cannot work."""
    now = clock or (lambda: datetime.now(UTC))
    config = live.current
    web = Web(
        live=live,
        queries=operations.queries,
        operations=operations,
        schedules=schedules,
        templates=page_templates(),
        clock=now,
    )
    settings = config.settings.web
    accounts = operations.accounts
    signing_in = auth.build(config.settings, accounts, now)  # checks the settings, then makes the key if new
    auth.settle_settings_admin(accounts, settings.secret(), now())
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(
            SessionMiddleware,
            # Random, kept in the database (or given as a secret): logins survive a restart and work on every
            # replica, and one cookie tells nothing about any password.
            secret_key=signing_in.session_key,
            session_cookie=SESSION_COOKIE,
            max_age=int(settings.session_hours * 3600),
            same_site="lax",
            https_only=signing_in.https,
        ),
    ]
    if settings.trusted_proxies:
        # The client's address from X-Forwarded-For (and the scheme from X-Forwarded-Proto) only when the
        # peer is one of these proxies; the server itself trusts no header (bot/web/server.py).
        middleware.insert(0, Middleware(ProxyHeadersMiddleware,
                                        trusted_hosts=[str(net) for net in settings.trusted_proxies]))
    routes = [
        *auth.routes,
        *dashboard.routes,
        *editor.routes,
        # The .ics route comes before /events/{event_id}, which would otherwise take it.
        *feeds.routes,
        *public.routes,
        *health.routes,
        *reach.routes,
        Mount("/static", app=GZipMiddleware(CachedStatic(directory=STATIC_DIR)), name="static"),
    ]
    app = Starlette(routes=routes, middleware=middleware, exception_handlers={HTTPException: _http_error})
    app.state.web = web
    app.state.pages = {}  # rendered event pages (bot/web/public.py)
    app.state.auth = signing_in
    app.state.chat_health = chat_health
    app.state.metrics = health.registry(web)
    # Templates may ask who is signed in (the dashboard's header shows it); asked lazily, so that a public
    # page never reads the session (and stays cacheable: no Vary: Cookie).
    web.templates.context_processors.append(lambda request: {"signed_in": lambda: auth.current_user(request)})
    return app


__all__ = ["create_app"]
