"""The adapters under test and what their fake platforms hold, in one shape for every platform: the contract
suite and the soak drive telegram, vk, x, max and the outbox through these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

from pydantic import SecretStr

from bot.abc import Adapter
from bot.adapters import OutboxAdapter
from bot.adapters.max import MaxAdapter
from bot.adapters.telegram import TelegramAdapter
from bot.adapters.vk import VkAdapter
from bot.adapters.x import XAdapter
from bot.config.settings import MaxTarget, TelegramTarget, VkTarget, XTarget
from bot.domain import Part, Platform, PostKind, RenderedPost
from bot.platforms import SPECS
from tests.fakes import base
from tests.fakes.base import FakeServer, Reply
from tests.fakes.max import FakeMax
from tests.fakes.max import error as max_error
from tests.fakes.telegram import FakeTelegram
from tests.fakes.vk import FakeVk, vk_error
from tests.fakes.x import FakeX, problem

TELEGRAM_TOKEN = "123456:CONTRACT-telegram-SECRET"
MAX_TOKEN = "max-CONTRACT-bot-token-SECRET"
MAX_CHANNEL = -72000000000000
VK_TOKEN = "vk-CONTRACT-community-SECRET"
X_SECRETS = {
    "consumer_key": "x-contract-consumer-key-SECRET",
    "consumer_secret": "x-contract-consumer-SECRET",
    "access_token": "x-contract-access-token-SECRET",
    "access_token_secret": "x-contract-access-SECRET",
}
GROUP_ID = 89190013
TIMEOUT = 1.0  # the adapters' timeout: a "late" answer comes after it
NOW = 1_800_000_000.0  # Unix time as X's fake and adapter both see it
NETWORK = ["telegram", "vk", "x", "max"]
ALL = [*NETWORK, "outbox"]


class Fault(Enum):
    """A fault of one publishing request, as every fake can produce it."""

    SERVER_ERROR = "5xx"
    DROP = "connection closed without an answer"
    RECORD_THEN_DROP = "published, then the connection closed without an answer"
    RESET = "connection reset"
    RECORD_THEN_RESET = "published, then the connection reset"
    LATE = "published, answered after the timeout"
    RATE_LIMITED = "429 with a wait"
    RATE_LIMITED_NO_WAIT = "429 without a wait"
    UNAUTHORIZED = "401 / revoked token"
    FORBIDDEN = "403 / no right to post"


@dataclass
class Published:
    """One part as the platform holds it: its id, text, and the id it continues (reply-to / thread)."""

    id: str
    text: str
    continues: str | None


class Side:
    """An adapter under test and what its platform holds."""

    name: str
    adapter: Adapter
    default_wait: float  # the documented wait for a 429 that names none

    def published(self) -> list[Published]:
        raise NotImplementedError

    def fail_call(self, call: int, fault: Fault) -> None:
        """Script `fault` for the call-th publishing request from now (1 = the next one)."""
        raise NotImplementedError

    def requests(self) -> int:
        raise NotImplementedError

    @property
    def fake(self) -> FakeServer:
        raise NotImplementedError


class TelegramSide(Side):
    name, default_wait = "telegram", 60.0

    def __init__(self, fake: FakeTelegram) -> None:
        self._fake = fake
        target = TelegramTarget(platform=Platform.TELEGRAM, chat_id="@valdaiclub", url="https://t.me/valdaiclub",
                                token=SecretStr(TELEGRAM_TOKEN), api_base_url=fake.base_url, timeout=TIMEOUT)
        self.adapter = TelegramAdapter("telegram", target)

    @property
    def fake(self) -> FakeServer:
        return self._fake

    def published(self) -> list[Published]:
        return [Published(str(m["message_id"]), m.get("text") or m.get("caption") or "",
                          str(m["reply_to"]) if m["reply_to"] else None) for m in self._fake.messages]

    def fail_call(self, call: int, fault: Fault) -> None:
        replies = {
            Fault.SERVER_ERROR: FakeTelegram.server_error(),
            Fault.DROP: FakeTelegram.dropped(),
            Fault.RECORD_THEN_DROP: FakeTelegram.record_then_drop(),
            Fault.RESET: FakeTelegram.reset(),
            Fault.RECORD_THEN_RESET: FakeTelegram.record_then_reset(),
            Fault.LATE: FakeTelegram.slow(TIMEOUT + 1.5),
            Fault.RATE_LIMITED: FakeTelegram.rate_limited(7),
            Fault.RATE_LIMITED_NO_WAIT: FakeTelegram.rate_limited_without_retry_after(),
            Fault.UNAUTHORIZED: FakeTelegram.unauthorized(),
            Fault.FORBIDDEN: FakeTelegram.kicked(),
        }
        self._fake.fail_call("sendMessage", call, replies[fault])

    def requests(self) -> int:
        return len(self._fake.calls("sendMessage"))


class VkSide(Side):
    name, default_wait = "vk", 60.0

    def __init__(self, fake: FakeVk) -> None:
        self._fake = fake
        target = VkTarget(platform=Platform.VK, group_id=GROUP_ID, token=SecretStr(VK_TOKEN),
                          api_base_url=fake.base_url, timeout=TIMEOUT)
        self.adapter = VkAdapter("vk", target)

    @property
    def fake(self) -> FakeServer:
        return self._fake

    def published(self) -> list[Published]:
        return [Published(f"-{GROUP_ID}_{p.post_id}", p.message, None) for p in self._fake.posts]

    def fail_call(self, call: int, fault: Fault) -> None:
        html = {"Content-Type": "text/html"}
        replies = {
            Fault.SERVER_ERROR: Reply(status=500, body=b"<html>Internal Server Error</html>", headers=html),
            Fault.DROP: base.dropped(),
            Fault.RECORD_THEN_DROP: base.record_then_drop(),
            Fault.RESET: base.reset(),
            Fault.RECORD_THEN_RESET: base.record_then_reset(),
            Fault.LATE: base.late(TIMEOUT + 1.5),
            Fault.RATE_LIMITED: Reply(status=429, body=b"slow down", headers={**html, "Retry-After": "7"}),
            Fault.RATE_LIMITED_NO_WAIT: Reply(status=429, body=b"slow down", headers=html),
            Fault.UNAUTHORIZED: vk_error(5, "User authorization failed: invalid access_token", VK_TOKEN),
            Fault.FORBIDDEN: vk_error(15, "Access denied", VK_TOKEN),
        }
        # Without a cover every request is a wall.post.
        self._fake.fail_request(len(self._fake.requests) + call, replies[fault])

    def requests(self) -> int:
        return len([r for r in self._fake.requests if r.path == "/method/wall.post"])


class XSide(Side):
    name, default_wait = "x", 900.0

    def __init__(self, fake: FakeX) -> None:
        self._fake = fake
        target = XTarget(platform=Platform.X, username="valdaiclub", api_base_url=fake.base_url, timeout=TIMEOUT,
                         **{key: SecretStr(value) for key, value in X_SECRETS.items()})
        self.adapter = XAdapter("x", target, clock=lambda: NOW)

    @property
    def fake(self) -> FakeServer:
        return self._fake

    def published(self) -> list[Published]:
        return [Published(t.id, t.text, t.in_reply_to) for t in self._fake.tweets]

    def fail_call(self, call: int, fault: Fault) -> None:
        at = len(self._fake.requests) + call
        simple = {
            Fault.SERVER_ERROR: Reply(status=503, body=problem(503, "Service Unavailable", "Service Unavailable")),
            Fault.DROP: base.dropped(),
            Fault.RECORD_THEN_DROP: base.record_then_drop(),
            Fault.RESET: base.reset(),
            Fault.RECORD_THEN_RESET: base.record_then_reset(),
            Fault.LATE: base.late(TIMEOUT + 1.5),
        }
        if fault in simple:
            self._fake.fail_request(at, simple[fault])
        elif fault is Fault.RATE_LIMITED:
            self._fake.rate_limited(reset_in=7, at=at)
        elif fault is Fault.RATE_LIMITED_NO_WAIT:
            self._fake.rate_limited(reset_in=None, at=at)
        elif fault is Fault.UNAUTHORIZED:
            self._fake.unauthorized(at=at)
        else:
            self._fake.forbidden(at=at)

    def requests(self) -> int:
        return len(self._fake.requests)


class MaxSide(Side):
    name, default_wait = "max", 5.0

    def __init__(self, fake: FakeMax) -> None:
        self._fake = fake
        target = MaxTarget(platform=Platform.MAX, chat_id=str(MAX_CHANNEL), token=SecretStr(MAX_TOKEN),
                           api_base_url=fake.base_url, timeout=TIMEOUT)
        self.adapter = MaxAdapter("max", target)

    @property
    def fake(self) -> FakeServer:
        return self._fake

    def published(self) -> list[Published]:
        return [Published(m.mid, m.source, m.link["mid"] if m.link else None) for m in self._fake.channel_posts()]

    def fail_call(self, call: int, fault: Fault) -> None:
        replies = {
            Fault.SERVER_ERROR: max_error(503, "internal.error", "Service unavailable"),
            Fault.DROP: base.dropped(),
            Fault.RECORD_THEN_DROP: base.record_then_drop(),
            Fault.RESET: base.reset(),
            Fault.RECORD_THEN_RESET: base.record_then_reset(),
            Fault.LATE: base.late(TIMEOUT + 1.5),
            Fault.RATE_LIMITED: Reply(status=429, body={"code": "too.many.requests", "message": "Too many requests"},
                                      headers={"Retry-After": "7"}),
            Fault.RATE_LIMITED_NO_WAIT: max_error(429, "too.many.requests", "Too many requests"),
            Fault.UNAUTHORIZED: max_error(401, "verify.token", "Invalid access_token"),
            Fault.FORBIDDEN: max_error(403, "chat.denied", "chat.denied: the bot is not an administrator"),
        }
        self._fake.fail_call("POST /messages", call, replies[fault])

    def requests(self) -> int:
        return len(self._fake.calls("POST /messages"))


class OutboxSide(Side):
    """The outbox fails only as a disk does: a part's file cannot be written."""

    name = "outbox"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.adapter = OutboxAdapter("outbox", Platform.X, directory, clock=_fixed_time)

    def published(self) -> list[Published]:
        found = []
        for path in sorted((self.directory / "x").glob("*.txt")):
            if path.is_dir():
                continue  # a blocker put there by fail_call
            header, _, text = path.read_text(encoding="utf-8").partition("\n\n")
            continues = next((line.split(": ", 1)[1] for line in header.splitlines()
                              if line.startswith("continues: ")), None)
            found.append(Published(path.name, text.rstrip("\n"), continues))
        return found

    def fail_call(self, call: int, fault: Fault) -> None:
        # A directory where the call-th part's file goes: os.replace() cannot put the file there.
        stamp = _fixed_time().strftime("%Y%m%dT%H%M%S%fZ")
        blocker = self.directory / "x" / f"{stamp}-contract-event-announcement-outbox-{call}of3.txt"
        (blocker / "occupied").mkdir(parents=True)

    def unblock(self) -> None:
        for path in (self.directory / "x").glob("*.txt"):
            if path.is_dir():
                (path / "occupied").rmdir()
                path.rmdir()

    def requests(self) -> int:
        return len(self.published())


def _fixed_time() -> datetime:
    return datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def three_parts(platform: Platform, target: str) -> RenderedPost:
    """A post of three parts, valid on every platform (no markup, short enough for a tweet)."""
    texts = [f"Part {n} of the announcement: the treaty, its meaning and its limits." for n in ("one", "two", "three")]
    return RenderedPost(
        event_id="contract-event", kind=PostKind.ANNOUNCEMENT, target=target, platform=platform, lang="en",
        markup=SPECS[platform].markup.value, parts=tuple(Part(text=t, length=len(t)) for t in texts),
        limit=SPECS[platform].max_length, link=None,
    )


def post_for(side: Side) -> RenderedPost:
    platform = side.adapter.spec.platform
    return three_parts(platform, side.name)


def assert_chained(side: Side, published: list[Published]) -> None:
    """Telegram's later parts reply to the first; X's each reply to the one before; VK's stand alone;
    the outbox's name the first."""
    first, *rest = published
    assert first.continues is None
    if side.name in ("telegram", "max"):
        assert all(p.continues == first.id for p in rest)
    elif side.name == "x":
        assert [p.continues for p in rest] == [p.id for p in published[:-1]]
    elif side.name == "outbox":
        assert all(p.continues == first.id for p in rest)
    else:
        assert all(p.continues is None for p in rest)
