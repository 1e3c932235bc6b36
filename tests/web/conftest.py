"""Web fixtures: the real app on a copy of the embedded config, a real SQLite store, and an HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from bot.config import load_config
from bot.importing import import_events
from bot.runtime import Runtime
from bot.storage import Store, open_database
from bot.web import create_app
from tests.fakes.telegram import FakeTelegram
from tests.web.browser import Served
from tests.web.support import IMPORTED, PASSWORD, TELEGRAM_TOKEN, Clock, Site, SiteFactory, client_for, login


@pytest.fixture
def web_env(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The embedded config in a temporary folder, with a dashboard password in the environment."""
    monkeypatch.setenv("ANNOUNCE_BOT_WEB__PASSWORD", PASSWORD)
    return workdir


@pytest.fixture
def make_site(web_env: Path) -> Iterator[SiteFactory]:
    """make_site(with_dispatcher=False, clock=None, database_url=None): load the config as the CLI does and
    build the app on it (on a SQLite file in the working folder unless another database is given)."""
    made: list[Site] = []

    def _make(*, with_dispatcher: bool = False, clock: Clock | None = None, database_url: str | None = None) -> Site:
        config = load_config(web_env / "config")
        store = Store(open_database(database_url or f"sqlite:///{web_env / 'var' / 'web.db'}"))
        report = import_events(config, store, IMPORTED)  # imported well ahead of the campaign
        assert not report.errors, report.errors
        clock = clock or Clock()
        runtime = Runtime.build(config, store=store, clock=clock, notify=False, schedules=with_dispatcher)
        app = create_app(runtime.live, runtime.operations, schedules=with_dispatcher, clock=clock)
        site = Site(config=config, store=store, publisher=runtime.publisher, app=app, clock=clock, workdir=web_env,
                    runtime=runtime)
        made.append(site)
        return site

    yield _make
    for site in made:
        site.store.sessions.kw["bind"].dispose()


@pytest.fixture
def site(make_site: SiteFactory) -> Site:
    return make_site()


@pytest.fixture
async def client(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(site) as http:
        yield http
    await site.publisher.aclose()


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The client, logged in."""
    answer = await login(client)
    assert answer.status_code == 303 and answer.headers["location"] == "/admin", answer.text
    return client


@pytest.fixture
def fake_telegram(monkeypatch: pytest.MonkeyPatch, web_env: Path) -> Iterator[FakeTelegram]:
    """The loopback fake Bot API; the `telegram` target's token and API address point at it."""
    server = FakeTelegram(TELEGRAM_TOKEN, chat_id="@valdaiclub")
    server.start()
    monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__TELEGRAM__TOKEN", TELEGRAM_TOKEN)
    monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__TELEGRAM__API_BASE_URL", server.base_url)
    yield server
    server.stop()


@pytest.fixture
def telegram_site(fake_telegram: FakeTelegram, make_site: SiteFactory) -> Site:
    """The site with the `telegram` target publishing to the fake Bot API (the others to the outbox and feed)."""
    return make_site()


@pytest.fixture
def served(telegram_site: Site) -> Iterator[Served]:
    """The app served over HTTP for the browser tests, on the fake Telegram (tests/web/browser.py)."""
    server = Served(telegram_site).start()
    yield server
    server.stop()
