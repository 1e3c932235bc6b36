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
from bot.storage import Store
from bot.storage.accounts import Accounts

PASSWORD = "correct horse battery staple"
TELEGRAM_TOKEN = "123456:WEB-test-token"
EVENT_ID = "russia-dprk-treaty"
# Between the announcement (20 November) and the event (27 November 2024, 11:00 Moscow time).
BEFORE_EVENT = datetime(2024, 11, 25, 9, 0, tzinfo=UTC)


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

    def post_id(self, step: str, target: str) -> int:
        return next(p.id for p in self.store.posts(EVENT_ID) if p.step_id == step and p.target == target)

    def state(self, post_id: int) -> str:
        return next(p.state for p in self.store.posts() if p.id == post_id)


SiteFactory = Callable[..., Site]


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
