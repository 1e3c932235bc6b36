"""The web app: the organiser's dashboard, public event pages, feeds, health and metrics (create_app builds it)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.config.live import LiveConfig
from bot.operations import Operations
from bot.storage import Store
from bot.web import auth, dashboard, feeds, health, public
from bot.web.state import STATIC_DIR, Web, page_templates, web_of

SESSION_COOKIE = "announce_bot_session"
# Pages load nothing from elsewhere but images (a cover); no inline script, no framing, forms only to us.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


class SecurityHeaders:
    """Adds the headers every page should carry (CSP, no sniffing, no framing, no referrer to other sites)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                for name, value in (
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                ):
                    if name not in names:
                        headers.append((name, value))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith(("/events", "/admin")) and request.method == "GET":
        web = web_of(request)
        return web.templates.TemplateResponse(
            request, "error.html", {"title": web.site_title, "status": exc.status_code, "detail": exc.detail},
            status_code=exc.status_code,
        )
    return PlainTextResponse(f"{exc.status_code}: {exc.detail}", status_code=exc.status_code)


def _session_key(password: str | None) -> str:
    if password is None:
        return secrets.token_urlsafe(32)
    return hashlib.sha256(b"announce-bot dashboard session\0" + password.encode()).hexdigest()


def create_app(
    live: LiveConfig,
    store: Store,
    operations: Operations,
    *,
    schedules: bool = False,
    clock: Callable[[], datetime] | None = None,
) -> Starlette:
    """The ASGI app. Every action goes through `operations` (whose dispatcher sends "publish now" as the scheduler
    would); `schedules` says a scheduler runs in this process, so /healthz expects it running."""
    now = clock or (lambda: datetime.now(UTC))
    config = live.current
    web = Web(
        live=live,
        store=store,
        operations=operations,
        schedules=schedules,
        templates=page_templates(),
        clock=now,
        password=config.settings.web.secret(),
    )
    public_url = config.settings.web.public_url or ""
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(
            SessionMiddleware,
            # Derived from the password, so logins survive a restart and work on every replica, and a new
            # password logs everyone out; with no password the dashboard is locked and any key will do.
            secret_key=_session_key(web.password),
            session_cookie=SESSION_COOKIE,
            max_age=int(config.settings.web.session_hours * 3600),
            same_site="lax",
            https_only=public_url.startswith("https://"),
        ),
    ]
    routes = [
        *auth.routes,
        *dashboard.routes,
        # The .ics route comes before /events/{event_id}, which would otherwise take it.
        *feeds.routes,
        *public.routes,
        *health.routes,
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    app = Starlette(routes=routes, middleware=middleware, exception_handlers={HTTPException: _http_error})
    app.state.web = web
    app.state.metrics = health.registry(web)
    return app


__all__ = ["create_app"]
