"""The dashboard's login: one password from settings, signed session cookies, CSRF tokens on every form."""

from __future__ import annotations

import functools
import hmac
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.web.state import web_of

Endpoint = Callable[[Request], Awaitable[Response]]

CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_PATH = "/admin/login"
MAX_FAILURES = 5  # wrong passwords from one address ...
FAILURE_WINDOW = 15 * 60.0  # ... within this many seconds lock that address out for the rest of the window


def csrf_token(request: Request) -> str:
    """This session's CSRF token, made on first use; every form of the dashboard carries it."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def csrf_ok(request: Request, submitted: object) -> bool:
    expected = request.session.get("csrf")
    if not isinstance(expected, str) or not isinstance(submitted, str) or not submitted:
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())


def logged_in(request: Request) -> bool:
    return request.session.get("auth") is True and float(request.session.get("until", 0)) > time.time()


def flash(request: Request, kind: str, text: str) -> None:
    """A message shown once, on the next dashboard page."""
    messages = list(request.session.get("flash", []))
    messages.append({"kind": kind, "text": text})
    request.session["flash"] = messages[-5:]


def take_flashes(request: Request) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = request.session.pop("flash", [])
    return messages


def _locked(request: Request) -> Response:
    web = web_of(request)
    return web.templates.TemplateResponse(request, "locked.html", {"title": web.site_title}, status_code=403)


def _refused(request: Request, reason: str, status: int = 403) -> Response:
    web = web_of(request)
    return web.templates.TemplateResponse(
        request, "refused.html", {"title": web.site_title, "reason": reason}, status_code=status
    )


def protected(endpoint: Endpoint) -> Endpoint:
    """Only a logged-in organiser gets through; a form must also carry this session's CSRF token."""

    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        if web_of(request).password is None:
            return _locked(request)
        if not logged_in(request):
            if request.method in SAFE_METHODS:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"{LOGIN_PATH}?next={quote(target)}", status_code=303)
            return _refused(request, "You are not logged in.", 401)
        if request.method not in SAFE_METHODS:
            form = await request.form()
            if not csrf_ok(request, form.get(CSRF_FIELD)):
                return _refused(request, "The form had no valid security token. Reload the page and try again.")
        return await endpoint(request)

    return guarded


def _safe_next(value: str | None) -> str:
    """Only a dashboard path: never another site (open redirect) or a scheme-relative URL."""
    if not value:
        return "/admin"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/admin") or value.startswith("//") or "\\" in value:
        return "/admin"
    return value


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _too_many_failures(request: Request) -> bool:
    failures = web_of(request).login_failures.get(_client(request))
    if not failures:
        return False
    while failures and failures[0] < time.monotonic() - FAILURE_WINDOW:
        failures.popleft()
    return len(failures) >= MAX_FAILURES


async def login_page(request: Request) -> Response:
    web = web_of(request)
    if web.password is None:
        return _locked(request)
    if logged_in(request):
        return RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
    return _login_form(request, None, 200)


def _login_form(request: Request, error: str | None, status: int) -> Response:
    web = web_of(request)
    context = {
        "title": web.site_title,
        "csrf": csrf_token(request),
        "next": _safe_next(request.query_params.get("next")),
        "error": error,
    }
    return web.templates.TemplateResponse(request, "login.html", context, status_code=status)


async def login(request: Request) -> Response:
    web = web_of(request)
    if web.password is None:
        return _locked(request)
    if _too_many_failures(request):
        return _refused(request, "Too many wrong passwords from your address; wait a quarter of an hour.", 429)
    form = await request.form()
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        return _refused(request, "The login form had no valid security token. Reload the page and try again.")
    given = form.get("password")
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), web.password.encode()):
        web.login_failures.setdefault(_client(request), deque()).append(time.monotonic())
        return _login_form(request, "Wrong password.", 401)
    web.login_failures.pop(_client(request), None)
    # A fresh session on login: nothing chosen before it (a planted token) survives.
    request.session.clear()
    request.session.update({
        "auth": True,
        "until": time.time() + web.settings.web.session_hours * 3600,
        "csrf": secrets.token_urlsafe(32),
    })
    next_path = form.get("next")
    return RedirectResponse(_safe_next(next_path if isinstance(next_path, str) else None), status_code=303)


@protected
async def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse(LOGIN_PATH, status_code=303)


routes = [
    Route(LOGIN_PATH, login_page, methods=["GET"], name="login_page"),
    Route(LOGIN_PATH, login, methods=["POST"], name="login"),
    Route("/admin/logout", logout, methods=["POST"], name="logout"),
]
