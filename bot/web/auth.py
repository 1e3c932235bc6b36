"""The dashboard's sign-in: users with roles, server-side sessions, CSRF tokens, throttled failures, Telegram.

The session cookie is signed with a random key of the installation (never derived from a password) and
carries a random session token, the CSRF token and flash messages. The token is only good while its row in
`web_sessions` lives: logging out, a password change or removing the user ends it wherever the cookie went.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from itsdangerous import BadData, URLSafeTimedSerializer
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.accounts import SETTINGS_ADMIN, Role, User, hash_password, needs_rehash, verify_password
from bot.clock import Clock
from bot.config.settings import Settings, TelegramTarget
from bot.links import href
from bot.storage.accounts import AccountError, Accounts
from bot.web import telegram_login
from bot.web.headers import TELEGRAM_LOGIN_CSP
from bot.web.signin_delays import LoginThrottle, Refusal
from bot.web.state import web_of

log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]

CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_PATH = "/admin/login"
TELEGRAM_PATH = "/admin/login/telegram"
SESSION_KEY_NAME = "session"  # the signing key's name in web_keys
KNOWN_COOKIE = "announce_bot_known"
KNOWN_DAYS = 30
MIN_SESSION_KEY = 32
MAX_PASSWORD = 1024  # longer is not a password anyone types; refuse it before hashing
HASHES_AT_ONCE = 2  # each argon2 check takes 64 MiB and a core for ~0.1 s: a flood waits its turn


@dataclass(kw_only=True)
class Auth:
    """What sign-in needs, built once by create_app and kept on the app."""

    accounts: Accounts
    throttle: LoginThrottle
    session_key: str
    # Signs the "known browser" cookie: who last signed in from this browser (see _known_browser).
    known_browsers: URLSafeTimedSerializer
    https: bool
    clock: Clock
    lifetime: timedelta
    health_token: str | None
    metrics_token: str | None
    telegram_bot: str | None  # the bot's username, when sign-in with Telegram is offered
    telegram_token: str | None
    telegram_max_age: timedelta
    checks: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(HASHES_AT_ONCE))


def build(settings: Settings, accounts: Accounts, clock: Clock) -> Auth:
    """Auth for these settings (the session key made now if it is the first start); ValueError names a setting
    that cannot work."""
    web = settings.web
    telegram_token = None
    if web.telegram_login:
        target = settings.targets.get(web.telegram_login_target)
        telegram_token = target.secret("token") if isinstance(target, TelegramTarget) else None
        if not telegram_token:
            raise ValueError(f"[web] telegram_login needs the bot token of the Telegram target "
                             f"{web.telegram_login_target!r} (telegram_login_target)")
    key = session_key(settings, accounts)
    return Auth(
        accounts=accounts,
        throttle=LoginThrottle(accounts, delay=web.login_delay, delay_max=web.login_delay_max,
                               memory=web.login_memory, clock=clock, key=key),
        session_key=key,
        known_browsers=URLSafeTimedSerializer(key, salt="announce-bot known browser"),
        https=(web.public_url or "").startswith("https://"),
        clock=clock,
        lifetime=timedelta(hours=web.session_hours),
        health_token=web.secret_value("health_token"),
        metrics_token=web.secret_value("metrics_token"),
        telegram_bot=web.telegram_login,
        telegram_token=telegram_token,
        telegram_max_age=timedelta(seconds=web.telegram_login_max_age),
    )


def session_key(settings: Settings, accounts: Accounts) -> str:
    """The key that signs session cookies: `[web] session_key` if given, else one made once and kept in the
    database (so every replica and every restart shares it). Random either way: no password is in it."""
    given = settings.web.secret_value("session_key")
    if given is not None:
        if len(given) < MIN_SESSION_KEY:
            raise ValueError(f"[web] session_key: use at least {MIN_SESSION_KEY} random characters, e.g. the "
                             "output of: python -c 'import secrets; print(secrets.token_urlsafe(48))'")
        return given
    return accounts.key(SESSION_KEY_NAME, lambda: secrets.token_urlsafe(48))


def settle_settings_admin(accounts: Accounts, password: str | None, now: datetime) -> None:
    """The single-password set-up as one user, "admin": made from ANNOUNCE_BOT_WEB__PASSWORD / password_file,
    given the new password when that changes (which ends its sessions), removed when it is unset."""
    if password is None:
        for name in accounts.remove_settings_users():
            log.info("dashboard: the settings password is unset, so the user %r is removed", name)
        return
    found = accounts.credentials(SETTINGS_ADMIN)
    if found is None:
        # AccountError: another replica made it at the same moment, from the same settings.
        with contextlib.suppress(AccountError):
            accounts.add(SETTINGS_ADMIN, Role.ADMIN, hash_password(password), from_settings=True, now=now)
    elif not found.from_settings:
        log.warning("dashboard: the user %r was added with `announce-bot user add`, so the settings password "
                    "(ANNOUNCE_BOT_WEB__PASSWORD / password_file) does not sign in as it", SETTINGS_ADMIN)
    elif not verify_password(found.password_hash, password):
        ended = accounts.set_password(SETTINGS_ADMIN, hash_password(password), now)
        log.info("dashboard: the settings password changed; %d session(s) of %r ended", ended, SETTINGS_ADMIN)


def auth_of(request: Request) -> Auth:
    auth: Auth = request.app.state.auth
    return auth


def client_address(request: Request) -> str:
    """The client's address: the peer's, or what a proxy in `[web] trusted_proxies` says (and only then)."""
    return request.client.host if request.client else "unknown"


async def signed_in_user(request: Request) -> User | None:
    """The signed-in user of this request (name, role, Telegram id), or None: looked up once per request, in a
    worker thread (the event loop sends posts and answers the chat bot meanwhile)."""
    state = request.state
    if not getattr(state, "user_checked", False):
        user = None
        token = request.session.get("sid")
        if isinstance(token, str) and token:
            auth = auth_of(request)
            user = await asyncio.to_thread(auth.accounts.session_user, token, auth.clock())
            if user is None:
                request.session.pop("sid", None)  # ended, expired or removed: the cookie forgets it too
        state.user = user
        state.user_checked = True
    return current_user(request)


def current_user(request: Request) -> User | None:
    """The user `signed_in_user` found for this request (None before it looked, or when nobody is signed in)."""
    found: User | None = getattr(request.state, "user", None)
    return found


def bearer_ok(request: Request, expected: str | None) -> bool:
    """The request carries `Authorization: Bearer <expected>` (compared in constant time)."""
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return expected is not None and scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), expected.encode())


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


def flash(request: Request, kind: str, text: str) -> None:
    """A message shown once, on the next dashboard page."""
    messages = list(request.session.get("flash", []))
    messages.append({"kind": kind, "text": text})
    request.session["flash"] = messages[-5:]


def take_flashes(request: Request) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = request.session.pop("flash", [])
    return messages


def _page(request: Request, name: str, context: dict[str, Any], status: int) -> Response:
    web = web_of(request)
    response = web.templates.TemplateResponse(request, name, {"title": web.site_title, **context},
                                              status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _locked(request: Request) -> Response:
    return _page(request, "locked.html", {}, 403)


def _refused(request: Request, reason: str, status: int = 403, headers: dict[str, str] | None = None) -> Response:
    response = _page(request, "refused.html", {"reason": reason}, status)
    response.headers.update(headers or {})
    return response


def requires(role: Role) -> Callable[[Endpoint], Endpoint]:
    """Guards a dashboard endpoint: a signed-in user of at least `role`; a form must also carry this
    session's CSRF token. Anonymous: a page redirects to the login form, an action gets 401."""

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            user = await signed_in_user(request)
            if user is None:
                if not await asyncio.to_thread(auth_of(request).accounts.any_user):
                    return _locked(request)
                if request.method in SAFE_METHODS:
                    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    return RedirectResponse(f"{LOGIN_PATH}?next={quote(target)}", status_code=303)
                return _refused(request, "You are not logged in.", 401)
            if request.method not in SAFE_METHODS:
                form = await request.form()
                if not csrf_ok(request, form.get(CSRF_FIELD)):
                    return _refused(request, "The form had no valid security token. Reload the page and try again.")
            if not user.can(role):
                log.warning("dashboard: %s (%s) was refused %s %s, which needs %s", user.name, user.role.value,
                            request.method, request.url.path, role.value)
                return _refused(request, f"Your role ({user.role.value}) may not do this: it needs {role.value} "
                                         "or above. An admin can change roles with `announce-bot user role`.")
            return await endpoint(request)

        return guarded

    return decorate


def _safe_next(value: str | None) -> str:
    """Only a dashboard path: never another site (open redirect) or a scheme-relative URL."""
    if not value:
        return "/admin"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/admin") or value.startswith("//") or "\\" in value:
        return "/admin"
    return value


def _login_form(request: Request, error: str | None, status: int, name: str = "",
                headers: dict[str, str] | None = None) -> Response:
    auth = auth_of(request)
    next_path = _safe_next(request.query_params.get("next"))
    telegram_url = None
    if auth.telegram_bot:
        # From public_url only (never the request's Host header); a relative address works in the browser too.
        telegram_url = href(web_of(request).settings.web, f"{TELEGRAM_PATH}?{urlencode({'next': next_path})}")
    response = _page(request, "login.html", {
        "csrf": csrf_token(request), "next": next_path, "error": error, "name": name,
        "telegram_bot": auth.telegram_bot, "telegram_url": telegram_url,
    }, status)
    if auth.telegram_bot:
        response.headers["Content-Security-Policy"] = TELEGRAM_LOGIN_CSP
    response.headers.update(headers or {})
    return response


async def login_page(request: Request) -> Response:
    if await signed_in_user(request) is not None:
        return RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
    if not await asyncio.to_thread(auth_of(request).accounts.any_user):
        return _locked(request)
    return _login_form(request, None, 200)


def _known_browser(request: Request, name: str) -> bool:
    """This browser signed in as `name` before (within KNOWN_DAYS): its failures are then slowed only by its own
    address's count, not by the account's, so an organiser's typo during an attack on the account costs seconds,
    not the attacker's delay (OWASP's "device cookies")."""
    cookie = request.cookies.get(KNOWN_COOKIE)
    if not cookie:
        return False
    try:
        return bool(auth_of(request).known_browsers.loads(cookie, max_age=KNOWN_DAYS * 86400) == name)
    except BadData:
        return False


async def _signed_in(request: Request, user: User, next_path: object, how: str) -> Response:
    auth = auth_of(request)
    token = await asyncio.to_thread(auth.accounts.open_session, user.name, auth.clock(), auth.lifetime)
    # A fresh session on login: nothing chosen before it (a planted token) survives.
    request.session.clear()
    request.session.update({"sid": token, "csrf": secrets.token_urlsafe(32)})
    log.info("dashboard: %s (%s) signed in %s from %s", user.name, user.role.value, how, client_address(request))
    response = RedirectResponse(_safe_next(next_path if isinstance(next_path, str) else None), status_code=303)
    response.set_cookie(KNOWN_COOKIE, auth.known_browsers.dumps(user.name), max_age=KNOWN_DAYS * 86400,
                        path=LOGIN_PATH, secure=auth.https, httponly=True, samesite="lax")
    return response


def _too_soon(request: Request, refusal: Refusal, name: str) -> Response:
    return _login_form(request, f"Too many failed sign-ins: try again in {refusal.retry_after} s.", 429, name,
                       headers={"Retry-After": str(refusal.retry_after)})


async def login(request: Request) -> Response:
    auth = auth_of(request)
    if not await asyncio.to_thread(auth.accounts.any_user):
        return _locked(request)
    form = await request.form()
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        return _refused(request, "The login form had no valid security token. Reload the page and try again.")
    given_name, password = form.get("name"), form.get("password")
    # A blank name is the single-password set-up's admin, so its one-field habit keeps working.
    name = given_name.strip().lower() if isinstance(given_name, str) and given_name.strip() else SETTINGS_ADMIN
    if not isinstance(password, str) or not password or len(password) > MAX_PASSWORD:
        return _login_form(request, "Give your name and password.", 400, name)
    address = client_address(request)
    attempt = await asyncio.to_thread(auth.throttle.begin, address, name, known_browser=_known_browser(request, name))
    if isinstance(attempt, Refusal):
        log.warning("dashboard: a sign-in from %s refused unchecked (%.0f s to wait)", address, attempt.wait)
        return _too_soon(request, attempt, name)
    found = await asyncio.to_thread(auth.accounts.credentials, name)
    async with auth.checks:
        right = await asyncio.to_thread(verify_password, found.password_hash if found else None, password)
    if found is None or not right:
        await asyncio.to_thread(auth.throttle.failed, attempt)
        # An unknown name is not logged: it may be a password typed into the wrong field.
        log.warning("dashboard: failed sign-in for %s from %s", repr(name) if found else "an unknown name", address)
        return _login_form(request, "Wrong name or password.", 401, name)
    await asyncio.to_thread(auth.throttle.succeeded, attempt)
    if found.password_hash and not found.from_settings and needs_rehash(found.password_hash):
        await asyncio.to_thread(auth.accounts.set_password, name, hash_password(password), auth.clock(),
                                end_sessions=False)
    return await _signed_in(request, found.user, form.get("next"), "with a password")


async def login_with_telegram(request: Request) -> Response:
    """Where Telegram's Login Widget sends the browser back, with the signed data in the query."""
    auth = auth_of(request)
    if auth.telegram_bot is None or auth.telegram_token is None:
        raise HTTPException(404, "sign-in with Telegram is not set up")
    try:
        signed = telegram_login.check(dict(request.query_params), auth.telegram_token, auth.clock(),
                                      auth.telegram_max_age)
    except telegram_login.TelegramLoginError as exc:
        log.warning("dashboard: sign-in with Telegram from %s refused: %s", client_address(request), exc)
        reason = str(exc)
        return _refused(request, f"{reason[:1].upper()}{reason[1:]}.")
    user = await asyncio.to_thread(auth.accounts.by_telegram_id, signed.telegram_id)
    if user is None:
        log.warning("dashboard: Telegram account %d (@%s) is no dashboard user", signed.telegram_id, signed.username)
        return _refused(request, f"No dashboard user has this Telegram account (id {signed.telegram_id}). An "
                                 "admin can add one: announce-bot user add NAME --role viewer --telegram-id "
                                 f"{signed.telegram_id}")
    return await _signed_in(request, user, request.query_params.get("next"), "with Telegram")


@requires(Role.VIEWER)
async def logout(request: Request) -> Response:
    token = request.session.get("sid")
    if isinstance(token, str):
        # Ended here, so a copy of the cookie is worthless too.
        await asyncio.to_thread(auth_of(request).accounts.end_session, token)
    request.session.clear()
    return RedirectResponse(LOGIN_PATH, status_code=303)


routes = [
    Route(LOGIN_PATH, login_page, methods=["GET"], name="login_page"),
    Route(LOGIN_PATH, login, methods=["POST"], name="login"),
    Route(TELEGRAM_PATH, login_with_telegram, methods=["GET"], name="login_telegram"),
    Route("/admin/logout", logout, methods=["POST"], name="logout"),
]
