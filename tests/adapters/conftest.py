"""Fixtures of the adapter tests: the fake platforms, and an adapter with its platform ("side") for each."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from tests.adapters.sides import (
    MAX_TOKEN,
    NOW,
    TELEGRAM_TOKEN,
    VK_TOKEN,
    X_SECRETS,
    MaxSide,
    OutboxSide,
    Side,
    TelegramSide,
    VkSide,
    XSide,
)
from tests.fakes.base import FakeServer
from tests.fakes.max import FakeMax
from tests.fakes.telegram import FakeTelegram
from tests.fakes.vk import FakeVk
from tests.fakes.x import FakeX


@pytest.fixture
def fakes() -> Iterator[dict[str, FakeServer]]:
    servers: dict[str, FakeServer] = {
        "telegram": FakeTelegram(TELEGRAM_TOKEN, chat_id="@valdaiclub"),
        "vk": FakeVk(token=VK_TOKEN),
        "x": FakeX(**X_SECRETS, clock=lambda: NOW),
        "max": FakeMax(MAX_TOKEN),
    }
    for server in servers.values():
        server.start()
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture
async def make_side(fakes: dict[str, FakeServer], tmp_path: Path) -> AsyncIterator[Callable[[str], Side]]:
    made: list[Side] = []

    def _make(name: str) -> Side:
        side: Side
        if name == "telegram":
            side = TelegramSide(fakes["telegram"])  # type: ignore[arg-type]
        elif name == "vk":
            side = VkSide(fakes["vk"])  # type: ignore[arg-type]
        elif name == "x":
            side = XSide(fakes["x"])  # type: ignore[arg-type]
        elif name == "max":
            side = MaxSide(fakes["max"])  # type: ignore[arg-type]
        else:
            side = OutboxSide(tmp_path / "outbox")
        made.append(side)
        return side

    yield _make
    for side in made:
        await side.adapter.aclose()
