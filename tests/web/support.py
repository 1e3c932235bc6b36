"""Helpers for the web tests: the clock, the site under test, logging in."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from starlette.applications import Starlette

from bot.accounts import Role, hash_password
from bot.config import AppConfig
from bot.delivery import Publisher
from bot.domain import PostState, Receipt
from bot.errors import PublishError
from bot.runtime import Runtime
from bot.storage import Claims, Store
from bot.storage.accounts import Accounts
from bot.storage.hotpath import Settlement

PASSWORD = "correct horse battery staple"
TELEGRAM_TOKEN = "123456:WEB-test-token"
EVENT_ID = "russia-dprk-treaty"
# Between the announcement (20 November) and the event (27 November 2024, 11:00 Moscow time).
BEFORE_EVENT = datetime(2024, 11, 25, 9, 0, tzinfo=UTC)
IMPORTED = datetime(2024, 11, 1, tzinfo=UTC)  # when the tests' sites first saw the event: before its campaign


class Clock:
    """A clock the test sets; the app, its dispatcher and the public pages all read it."""

    def __init__(self, now: datetime = BEFORE_EVENT) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Site:
    """The app under test and the real parts behind it."""

    config: AppConfig
    store: Store
    publisher: Publisher
    app: Starlette
    clock: Clock
    workdir: Path
    runtime: Runtime

    def post_id(self, step: str, target: str) -> int:
        return next(p.id for p in self.store.posts(EVENT_ID) if p.step_id == step and p.target == target)

    def state(self, post_id: int) -> str:
        return next(p.state for p in self.store.posts() if p.id == post_id)


SiteFactory = Callable[..., Site]


def attempt(site: Site, step: str, target: str, *, receipt: Receipt | None = None,
            error: PublishError | None = None) -> None:
    """Record one attempt at a planned post through the real claim, start and settle (as a sender would)."""
    claims = Claims(site.store.sessions)
    now = site.clock()
    post = claims.claim(site.post_id(step, target), now, "test-worker")
    assert post is not None
    delivery = claims.start(post, "test-worker", now)
    if receipt is not None:
        outcome = Settlement(state=PostState.SENT, receipt=receipt)
    else:
        assert error is not None
        state = PostState.RETRYING if error.retryable else PostState.FAILED
        outcome = Settlement(state=state, reason=f"{type(error).__name__}: {error}", error=str(error),
                             error_kind=type(error).__name__)
    assert claims.settle(post, "test-worker", delivery, outcome, now)


def client_for(site: Site) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=site.app), base_url="http://testserver")


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


async def login(http: httpx.AsyncClient, password: str = PASSWORD, name: str = "") -> httpx.Response:
    """Sign in with the login form (a blank name: the settings password's "admin")."""
    page = await http.get("/admin/login")
    assert page.status_code == 200, page.text
    return await http.post("/admin/login", data={"csrf_token": csrf_of(page.text), "name": name,
                                                 "password": password, "next": "/admin"})


def add_user(site: Site, name: str, role: Role, password: str | None = None, telegram_id: int | None = None) -> None:
    """A dashboard user, stored as `announce-bot user add` stores one."""
    Accounts(site.store.sessions).add(name, role, hash_password(password) if password else None,
                                      telegram_id=telegram_id, now=site.clock())
