"""Shared fixtures: the reference event, the real templates and config, rendered posts."""

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
CONFIG_DIR = ROOT / "config"
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
    """A copy of the real config and templates in a temporary working directory (var/ lands there too)."""
    import shutil

    shutil.copytree(CONFIG_DIR, tmp_path / "config")
    shutil.copytree(TEMPLATES_DIR, tmp_path / "templates")
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("ANNOUNCE_BOT_"):
            monkeypatch.delenv(name)
    return tmp_path


@pytest.fixture(params=["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every database the bot supports; storage tests run once per database (a contract suite)."""
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def store(database_url: str):  # type: ignore[no-untyped-def]
    from bot.storage import Store, open_database

    return Store(open_database(database_url))
