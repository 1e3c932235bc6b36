"""Shared fixtures: the reference event, the real templates, the tests' own config, rendered posts."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import load_event
from bot.domain import Event, Platform, PostKind, RenderedPost
from bot.rendering.renderer import Destination, Renderer

ROOT = Path(__file__).resolve().parent.parent
# The tests' own config (never the user's config/, which may hold their own events); the real templates.
CONFIG_DIR = ROOT / "tests" / "fixtures" / "config"
TEMPLATES_DIR = ROOT / "templates"
REFERENCE_EVENT_FILE = CONFIG_DIR / "events" / "russia-dprk-treaty.yaml"
SEEDS = ROOT.parent / "shared" / "seeds"

# Test servers live on loopback; a proxy from the environment must never be asked for them.
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"


@pytest.fixture(scope="session")
def reference_event() -> Event:
    return load_event(REFERENCE_EVENT_FILE)


@pytest.fixture(scope="session")
def renderer() -> Renderer:
    return Renderer(TEMPLATES_DIR)


RenderFn = Callable[..., RenderedPost]


@pytest.fixture(scope="session")
def render(reference_event: Event, renderer: Renderer) -> RenderFn:
    """render(kind, platform, lang="en", event=None, target=None): a real post from the real templates."""

    def _render(
        kind: PostKind | str,
        platform: Platform | str,
        lang: str = "en",
        event: Event | None = None,
        target: str | None = None,
    ) -> RenderedPost:
        platform = Platform(platform)
        kind = PostKind(kind)
        before = timedelta(days=1) if kind is PostKind.REMINDER else None
        destination = Destination(target=target or platform.value, platform=platform, lang=lang)
        return renderer.render(event or reference_event, kind, destination, before_start=before)

    return _render


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the tests' config and the real templates in a temporary working directory (var/ lands there)."""
    import shutil

    shutil.copytree(CONFIG_DIR, tmp_path / "config")
    shutil.copytree(TEMPLATES_DIR, tmp_path / "templates")
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("ANNOUNCE_BOT_"):
            monkeypatch.delenv(name)
    return tmp_path


@pytest.fixture(scope="session")
def postgres():  # type: ignore[no-untyped-def]
    """A PostgreSQL cluster for the session; skipped with the reason when the server is not installed
    (`make test` installs it), and a failure instead under CI, where it must be there."""
    from tests.postgres import PostgresServer, find_binaries

    binaries = find_binaries()
    if binaries is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed: scripts/system-deps.sh should have installed it")
        pytest.skip("PostgreSQL is not installed here (run `make test`, which installs it, as root)")
    server = PostgresServer(binaries).start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every database the bot supports; storage tests run once per database (a contract suite). PostgreSQL's run is
    `slow`: `make check` tries SQLite, `make test` both."""
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres")
        url: str = server.new_database()
        return url
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def store(database_url: str):  # type: ignore[no-untyped-def]
    from bot.storage import Store, open_database

    return Store(open_database(database_url))


# Credentials the fakes accept. Every one contains SECRET so that a leak is easy to search for.
TELEGRAM_TOKEN = "123456:TEST-telegram-SECRET-token"
VK_TOKEN = "vk-SECRET-user-token"
X_SECRETS = {
    "consumer_key": "x-consumer-key-SECRET",
    "consumer_secret": "x-consumer-SECRET",
    "access_token": "x-access-token-SECRET",
    "access_token_secret": "x-access-SECRET",
}


class Platforms:
    """Fake Telegram (one per channel), VK and X servers, and the environment that points the bot at them."""

    def __init__(self) -> None:
        from tests.fakes.telegram import FakeTelegram
        from tests.fakes.vk import FakeVk
        from tests.fakes.x import FakeX

        self.telegram = FakeTelegram(TELEGRAM_TOKEN, chat_id="@valdaiclub")
        self.telegram_ru = FakeTelegram(TELEGRAM_TOKEN, chat_id="@valdai_club")
        self.vk = FakeVk(token=VK_TOKEN)
        self.x = FakeX(**X_SECRETS)
        self.fakes = [self.telegram, self.telegram_ru, self.vk, self.x]

    @property
    def env(self) -> dict[str, str]:
        prefix = "ANNOUNCE_BOT_TARGETS__"
        env = {
            f"{prefix}TELEGRAM__TOKEN": TELEGRAM_TOKEN,
            f"{prefix}TELEGRAM__API_BASE_URL": self.telegram.base_url,
            f"{prefix}TELEGRAM_RU__TOKEN": TELEGRAM_TOKEN,
            f"{prefix}TELEGRAM_RU__API_BASE_URL": self.telegram_ru.base_url,
            f"{prefix}VK__TOKEN": VK_TOKEN,
            f"{prefix}VK__API_BASE_URL": self.vk.base_url,
            f"{prefix}X__API_BASE_URL": self.x.base_url,
        }
        env.update({f"{prefix}X__{key.upper()}": value for key, value in X_SECRETS.items()})
        for name in ("TELEGRAM", "TELEGRAM_RU", "VK", "X"):
            env[f"{prefix}{name}__TIMEOUT"] = "2"
        return env

    @property
    def secrets(self) -> list[str]:
        return [TELEGRAM_TOKEN, VK_TOKEN, *X_SECRETS.values()]

    def sent(self) -> dict[str, list[str]]:
        """What each fake accepted: Telegram message texts, VK wall posts, tweets."""
        return {
            "telegram": [m.get("text") or m.get("caption") or "" for m in self.telegram.messages],
            "telegram_ru": [m.get("text") or m.get("caption") or "" for m in self.telegram_ru.messages],
            "vk": [p.message for p in self.vk.posts],
            "x": [t.text for t in self.x.tweets],
        }


@pytest.fixture
def platforms(workdir: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """All fake platforms started on 127.0.0.1, and the bot's settings pointing at them."""
    fakes = Platforms()
    for fake in fakes.fakes:
        fake.start()
    for key, value in fakes.env.items():
        monkeypatch.setenv(key, value)
    yield fakes
    for fake in fakes.fakes:
        fake.stop()


@pytest.fixture(autouse=True)
def _cheapest_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Password hashes in this process are argon2id at the library's test profile: the real parameters (RFC 9106,
    64 MiB, ~0.4 s a hash here) made a third of the fast tests' CPU. tests/test_accounts.py checks the real ones;
    the bot started as a process (the CLI, `run`) hashes with them as ever."""
    import argon2

    import bot.accounts

    monkeypatch.setattr(bot.accounts, "_hasher", argon2.PasswordHasher.from_parameters(argon2.profiles.CHEAPEST))


@pytest.fixture(autouse=True)
def _logging_restored():  # type: ignore[no-untyped-def]
    """A command run in-process configures logging for the whole interpreter (levels, handlers): put it back,
    so that no test depends on which ran before it."""
    import logging

    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    levels = {name: logger.level for name, logger in logging.Logger.manager.loggerDict.items()
              if isinstance(logger, logging.Logger)}
    yield
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]
    for name, logger in logging.Logger.manager.loggerDict.items():
        if isinstance(logger, logging.Logger):
            logger.setLevel(levels.get(name, logging.NOTSET))


@pytest.fixture(autouse=True)
def _no_queries_on_the_event_loop():  # type: ignore[no-untyped-def]
    """The bot never queries its database on a running event loop's thread (tests/loop_guard.py)."""
    from tests.loop_guard import GUARD, install

    install()
    GUARD.found.clear()
    yield
    found = list(dict.fromkeys(GUARD.found))
    GUARD.found.clear()
    assert not found, f"the bot queried its database on the event loop: {found}"
